"""What keeps uploads from piling up: the cap on open resumable sessions per user, and the
sweep of request bodies spooled to disk by a server process that died mid-upload.

Django removes a spooled `uploadFile` body when the request ends; a killed worker process
(OOM, SIGKILL, a redeploy) leaves it in FILE_UPLOAD_TEMP_DIR. Such a file is no longer written
to, so one untouched for UPLOAD_TEMP_FILE_MAX_AGE_SECONDS is an orphan.
"""

import logging
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import CodedValidationError
from accounts.models import User
from config import metrics
from registry.errors import RegistryErrorCode as Code
from registry.models import UploadSession, UploadState

logger = logging.getLogger(__name__)


def open_upload_sessions_check(actor: Actor) -> None:
    """`too_many_uploads` when the actor has UPLOAD_SESSIONS_MAX_OPEN_PER_USER open sessions;
    others' sessions, in any tenant, never count against them."""
    # One check at a time per user, so parallel starts cannot pass the cap together.
    User.objects.select_for_update().filter(pk=actor.user.pk).first()
    limit = settings.UPLOAD_SESSIONS_MAX_OPEN_PER_USER
    open_count = UploadSession.objects.filter(created_by=actor.user, state=UploadState.OPEN,
                                              expires_at__gt=timezone.now()).count()
    if open_count >= limit:
        raise CodedValidationError(
            {"uploadId": f"You have {open_count} open uploads; complete or abort some first "
                         f"(at most {limit})."},
            code=Code.TOO_MANY_UPLOADS,
        )


def upload_temp_dir() -> Path:
    return Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())


def _is_spooled_upload(path: Path) -> bool:
    # Django's TemporaryUploadedFile names: tmp<random>.upload[.<extension>]. Nothing else in
    # the folder is touched, should it be shared (the system's temporary folder).
    return path.name.startswith("tmp") and ".upload" in path.name


def orphaned_upload_temp_files_delete(*, now: float | None = None) -> dict[str, int]:
    """Delete spooled upload bodies untouched for UPLOAD_TEMP_FILE_MAX_AGE_SECONDS."""
    cutoff = (time.time() if now is None else now) - settings.UPLOAD_TEMP_FILE_MAX_AGE_SECONDS
    deleted = freed = 0
    for path in upload_temp_dir().iterdir():
        try:
            status = path.lstat()
            if (not path.is_file() or path.is_symlink() or not _is_spooled_upload(path)
                    or status.st_mtime >= cutoff):
                continue
            path.unlink()
        except FileNotFoundError:  # finished and removed by its request meanwhile
            continue
        deleted += 1
        freed += status.st_size
    metrics.UPLOAD_TEMP_FILES_SWEPT.inc(deleted)
    metrics.UPLOAD_TEMP_BYTES_SWEPT.inc(freed)
    logger.info("upload temp sweep: %d orphaned files deleted, %d bytes freed", deleted, freed)
    return {"temp_files_deleted": deleted, "temp_bytes_freed": freed}
