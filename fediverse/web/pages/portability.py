"""Settings → Import and export, and Settings → Delete account (decision 0060).

- Exports: one CSV download per type, in Mastodon's formats, made on the spot.
- Imports: a CSV upload (type, merge or overwrite) becomes a background job; the page lists the account's
  imports with their progress (it refreshes itself while one runs) and each import's skipped lines with why.
- Archive: asked for here, built by the worker, downloadable here by its owner alone (never by URL alone:
  the file is read only after the session's account is checked to be the archive's).
- Deleting the account: confirmed with the password; the person is signed out at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import col
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest, Forbidden, NotFound, ReverieError
from fediverse.core.passwords import MAX_PASSWORD_LENGTH
from fediverse.portability.archives import archives_folder
from fediverse.portability.csv_formats import MAX_FILE_BYTES, import_type
from fediverse.portability.deletion import delete_own_account
from fediverse.portability.exports import FILE_NAMES, ExportType, export_counts, export_csv, export_type
from fediverse.portability.imports import create_import
from fediverse.portability.jobs import ARCHIVE_LIFETIME, QUEUE_NAME, request_archive
from fediverse.services import Services
from fediverse.web.pages.forms import see_other, signed_in_form, text_field
from fediverse.web.params import path_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import SESSION_COOKIE, require_account
from storage.models import Account, AccountJob, AccountJobKind, ImportRow, ImportRowState, ImportType, JobState

#: Imports and archives listed on the page.
LISTED_JOBS = 20
#: Skipped lines shown for one import.
LISTED_SKIPPED = 500
NO_STORE = {"Cache-Control": "private, no-store"}

IMPORT_LABELS = {
    ImportType.FOLLOWING: "Following",
    ImportType.BLOCKS: "Blocked accounts",
    ImportType.MUTES: "Muted accounts",
    ImportType.DOMAIN_BLOCKS: "Hidden servers (domain blocks)",
    ImportType.BOOKMARKS: "Bookmarks",
}
EXPORT_LABELS = {
    ExportType.FOLLOWING: "Following",
    ExportType.FOLLOWERS: "Followers",
    ExportType.BLOCKS: "Blocked accounts",
    ExportType.MUTES: "Muted accounts",
    ExportType.DOMAIN_BLOCKS: "Hidden servers (domain blocks)",
    ExportType.BOOKMARKS: "Bookmarks",
}


async def import_export_page(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    account = await require_account(request)
    services: Services = request.state.services
    assert account.id is not None
    account_id, actor_id = account.id, account.actor_id
    counts = await services.db.read(lambda session: export_counts(session, account_id, actor_id))
    async with services.db.session() as session:
        jobs = list(
            await session.scalars(
                select(AccountJob)
                .where(
                    col(AccountJob.account_id) == account.id,
                    col(AccountJob.kind).in_([AccountJobKind.IMPORT, AccountJobKind.ARCHIVE]),
                )
                .order_by(col(AccountJob.id).desc())
                .limit(LISTED_JOBS)
            )
        )
    imports = [job for job in jobs if job.kind == AccountJobKind.IMPORT]
    archives = [job for job in jobs if job.kind == AccountJobKind.ARCHIVE]
    context: dict[str, Any] = {
        "exports": [(kind, EXPORT_LABELS[kind], counts[kind]) for kind in ExportType],
        "import_types": list(IMPORT_LABELS.items()),
        "import_labels": IMPORT_LABELS,
        "imports": imports,
        "archives": archives,
        "archive_days": ARCHIVE_LIFETIME.days,
        "max_megabytes": MAX_FILE_BYTES // (1024 * 1024),
        "working": any(job.state == JobState.QUEUED for job in jobs),
        "notice": request.query_params.get("done"),
        "error": error,
    }
    return await render_page(request, "settings_import_export.html", context, status_code=status_code)


async def start_import(request: Request) -> Response:
    account, form = await signed_in_form(request)
    services: Services = request.state.services
    try:
        kind = import_type(text_field(form, "type", max_length=32))
        mode = text_field(form, "mode", max_length=16) or "merge"
        if mode not in ("merge", "overwrite"):
            raise BadRequest("Choose to merge or to overwrite.")
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise BadRequest("Choose a CSV file to import.")
        data = await upload.read(MAX_FILE_BYTES + 1)
        await create_import(
            services.db, account.username, kind, data, filename=upload.filename, overwrite=mode == "overwrite"
        )
    except BadRequest as error:
        return await import_export_page(request, error=str(error), status_code=400)
    finally:
        await form.close()
    services.wake_worker(QUEUE_NAME)
    return see_other("/settings/import-export?done=import#imports")


async def import_details(request: Request) -> Response:
    """One import: its progress and every line it skipped, with why."""
    account = await require_account(request)
    services: Services = request.state.services
    job = await _own_job(services, account, path_id(request, "job_id"), AccountJobKind.IMPORT)
    async with services.db.session() as session:
        skipped = list(
            await session.scalars(
                select(ImportRow)
                .where(col(ImportRow.job_id) == job.id, col(ImportRow.state) == ImportRowState.SKIPPED)
                .order_by(col(ImportRow.line))
                .limit(LISTED_SKIPPED)
            )
        )
        waiting = await session.scalar(
            select(func.count())
            .select_from(ImportRow)
            .where(col(ImportRow.job_id) == job.id, col(ImportRow.state) == ImportRowState.QUEUED)
        )
    return await render_page(
        request,
        "settings_import.html",
        {
            "job": job,
            "label": IMPORT_LABELS.get(ImportType(job.import_type or ImportType.FOLLOWING), job.import_type),
            "skipped": skipped,
            "waiting": waiting or 0,
            "working": job.state == JobState.QUEUED,
        },
    )


async def download_export(request: Request) -> Response:
    account = await require_account(request)
    services: Services = request.state.services
    try:
        kind = export_type(request.path_params["kind"])
    except BadRequest as error:
        raise NotFound(str(error)) from error
    text = await export_csv(services.db, account.username, kind)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{FILE_NAMES[kind]}"'},
    )


async def ask_for_archive(request: Request) -> Response:
    account, form = await signed_in_form(request)
    await form.close()
    services: Services = request.state.services
    try:
        await request_archive(services, account.username)
    except ReverieError as error:
        return await import_export_page(request, error=str(error), status_code=error.status_code)
    return see_other("/settings/import-export?done=archive#archive")


async def download_archive(request: Request) -> Response:
    """The archive's zip, to its owner alone; any other job id (someone else's, unfinished, expired) is 404."""
    account = await require_account(request)
    services: Services = request.state.services
    job = await _own_job(services, account, path_id(request, "job_id"), AccountJobKind.ARCHIVE)
    path = archives_folder(services.settings.data_dir) / (job.filename or "")
    if job.state != JobState.SUCCEEDED or not job.filename or not path.is_file():
        raise NotFound("This archive is not ready, or no longer kept.")
    stamp = (job.finished_at or job.created_at).strftime("%Y%m%d%H%M%S")
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"archive-{account.username}-{stamp}.zip",
        headers=NO_STORE,
    )


async def _own_job(services: Services, account: Account, job_id: int, kind: AccountJobKind) -> AccountJob:
    async with services.db.session() as session:
        job = await session.get(AccountJob, job_id)
    if job is None or job.account_id != account.id or job.kind != kind:
        raise NotFound("Nothing here.")
    return job


async def delete_account_page(request: Request) -> Response:
    """Deleting one's account: what it does, and the password to confirm it."""
    services: Services = request.state.services
    if request.method == "GET":
        await require_account(request)
        return await render_page(request, "settings_delete.html", {})
    account, form = await signed_in_form(request)
    password = text_field(form, "password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    if form.get("confirm") != "on":
        return await render_page(
            request, "settings_delete.html", {"error": "Tick the box to confirm."}, status_code=400
        )
    try:
        await delete_own_account(services, account.username, password)
    except Forbidden as error:
        return await render_page(request, "settings_delete.html", {"error": str(error)}, status_code=403)
    response = see_other("/?deleted=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/settings/import-export", import_export_page),
    Route("/settings/imports", start_import, methods=["POST"]),
    Route("/settings/imports/{job_id:id}", import_details),
    Route("/settings/exports/{kind}.csv", download_export),
    Route("/settings/archives", ask_for_archive, methods=["POST"]),
    Route("/settings/archives/{job_id:id}", download_archive),
    Route("/settings/delete", delete_account_page, methods=["GET", "POST"]),
]
