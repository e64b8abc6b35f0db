"""The HTTP API's routers, one module per resource (wired up in ``pigen.service.app``)."""
