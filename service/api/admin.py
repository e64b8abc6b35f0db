"""The admin page (``/admin``): plain HTML whose data come from the experiments API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["admin"])

ADMIN_PAGE = Path(__file__).resolve().parents[1] / "web" / "admin.html"


@router.get("/admin", include_in_schema=False)
async def admin_page() -> FileResponse:
    """The experiments admin page: experiments, their results tables and the plot."""
    return FileResponse(ADMIN_PAGE, media_type="text/html")
