"""proxbox-mq gateway: a thin Starlette app. Never imports worker code."""
