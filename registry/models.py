"""The catalog: models, datasets, their versions and files, vocabulary, lineage, aliases.

Every row belongs to a tenant (directly or through its parent); visibility is applied in
``registry.selectors`` and nowhere else.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from accounts.models import Tenant


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public in the tenant"
    PRIVATE = "private", "Private"


class AccessLevel(models.TextChoices):
    """What an object permission grants, lowest first; each level includes those below it."""

    VIEW = "view", "View"
    CHANGE = "change", "View and change"
    MANAGE = "manage", "View, change, share and delete"


class Status(models.TextChoices):
    TRAINING = "training", "Training"
    TEST = "test", "Test"
    PRODUCTION = "production", "Production"
    DEPLOY = "deploy", "Deploy"


class VocabularyUsage(models.TextChoices):
    DEFAULT = "default", "Default (suggested by the tenant admins)"
    FOLK = "folk", "Folk (typed by users)"


class VersionState(models.TextChoices):
    LIVE = "live", "Live"
    ARCHIVED = "archived", "Archived"


class ScanStatus(models.TextChoices):
    PENDING = "pending", "Pending scan"
    CLEAN = "clean", "Clean"
    FLAGGED = "flagged", "Flagged"
    ERROR = "error", "Scan error"
    RELEASED = "released", "Released by an admin"


class VocabularyEntry(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    usage = models.CharField(
        max_length=8, choices=VocabularyUsage.choices, default=VocabularyUsage.FOLK
    )
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(VocabularyEntry):
    class Meta(VocabularyEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="tag_unique")]
        indexes = [models.Index(fields=["tenant", "usage", "name"])]


class MetadataKey(VocabularyEntry):
    class Meta(VocabularyEntry.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="metadata_key_unique")
        ]
        indexes = [models.Index(fields=["tenant", "usage", "name"])]


class CatalogEntry(models.Model):
    """What registered models and datasets have in common."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    name = models.CharField(max_length=200)
    project_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    readme = models.TextField(blank=True, help_text="Model card / dataset card, markdown.")
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.TRAINING)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    license = models.CharField(max_length=100, blank=True, help_text="SPDX identifier")
    author = models.CharField(max_length=200, blank=True)
    organization = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    architecture = models.CharField(max_length=100, blank=True)
    framework = models.CharField(max_length=100, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    # Kept up to date by the services on PostgreSQL; unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _catalog_indexes(prefix: str) -> list[models.Index]:
    return [
        # A page by name of what a caller may see (id, owner, visibility, latest version)
        # reads this index alone: rows it may not see are skipped without touching the table.
        models.Index(fields=["tenant", "name"],
                     include=["id", "owner", "visibility", "latest_version"],
                     name=f"{prefix}_name_page"),
        models.Index(fields=["tenant", "visibility", "name"], name=f"{prefix}_visible_name"),
        # Covers what `visible_condition` reads, so a COUNT of what a caller may see scans
        # this index alone instead of every row of the table.
        models.Index(fields=["tenant", "owner", "visibility"], include=["id"],
                     name=f"{prefix}_owner_visibility"),
        models.Index(fields=["tenant", "project_name"], name=f"{prefix}_project"),
        models.Index(fields=["tenant", "status"], name=f"{prefix}_status"),
        models.Index(fields=["tenant", "category", "architecture"], name=f"{prefix}_cat_arch"),
    ]


class RegisteredModel(CatalogEntry):
    datasets = models.ManyToManyField("Dataset", blank=True, related_name="models")
    # Denormalised newest version (semantic precedence), kept by the services, so a page
    # of models joins it instead of ranking every version.
    latest_version = models.ForeignKey("ModelVersion", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+",
                                       editable=False)

    class Meta(CatalogEntry.Meta):
        verbose_name = "registered model"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="model_name_unique")
        ]
        indexes = _catalog_indexes("model")
        permissions = [("manage_registeredmodel", "May share and delete the model")]


class Dataset(CatalogEntry):
    latest_version = models.ForeignKey("DatasetVersion", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+",
                                       editable=False)

    class Meta(CatalogEntry.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="dataset_name_unique")
        ]
        indexes = _catalog_indexes("dataset")
        permissions = [("manage_dataset", "May share and delete the dataset")]


class Trashable(models.Model):
    """Versions and files: set by the trash services only (registry.trash); a trashed row is
    hidden from every read path and purged after `purge_after` unless restored."""

    trashed_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    trashed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   editable=False)
    trash_reason = models.CharField(max_length=200, blank=True, editable=False)
    purge_after = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    class Meta:
        abstract = True


class Version(Trashable):
    """What model versions and dataset versions have in common."""

    version = models.CharField(max_length=100, help_text="Semantic version, e.g. 1.2.0-rc.1")
    # Parsed from `version` for semantic ordering ("newest version").
    version_major = models.PositiveIntegerField(editable=False)
    version_minor = models.PositiveIntegerField(editable=False)
    version_patch = models.PositiveIntegerField(editable=False)
    # Releases sort after their pre-releases: empty is stored as "~" (after any ASCII id).
    version_prerelease = models.CharField(max_length=100, editable=False)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=8, choices=VersionState.choices,
                             default=VersionState.LIVE)
    source_uri = models.CharField(
        max_length=2000, blank=True, help_text="Training run URI; never dereferenced."
    )
    metrics = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set by `version_immutable_set` only: files, content fields and the version itself are
    # then frozen (its state may still change).
    immutable = models.BooleanField(default=False, editable=False)

    SEMVER_ORDER = ("-version_major", "-version_minor", "-version_patch",
                    "-version_prerelease")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.version


class ModelVersion(Version):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="versions")
    precision = models.CharField(max_length=16, blank=True, help_text="FP32, FP16, INT8 …")
    hardware = models.JSONField(
        default=dict, blank=True,
        help_text="min_memory_mb, accelerators, gpu_memory_mb, disk_mb",
    )
    checkpoints = models.JSONField(default=list, blank=True)
    container_images = models.JSONField(
        default=list, blank=True, help_text="[{registry, repository, digest}]"
    )
    dataset_versions = models.ManyToManyField(
        "DatasetVersion", blank=True, through="LineageLink", related_name="model_versions"
    )

    class Meta:
        ordering = ["model", *Version.SEMVER_ORDER]
        constraints = [
            # A trashed version's string is free again (restoring it then refuses a clash).
            models.UniqueConstraint(fields=["model", "version"], name="model_version_unique",
                                    condition=models.Q(trashed_at__isnull=True))
        ]
        indexes = [
            models.Index(fields=["model", "version_major", "version_minor", "version_patch",
                                 "version_prerelease"], name="model_version_semver"),
            models.Index(fields=["precision"], name="model_version_precision"),
        ]


class DatasetVersion(Version):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")

    class Meta:
        ordering = ["dataset", *Version.SEMVER_ORDER]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"],
                                    name="dataset_version_unique",
                                    condition=models.Q(trashed_at__isnull=True))
        ]
        indexes = [
            models.Index(fields=["dataset", "version_major", "version_minor", "version_patch",
                                 "version_prerelease"], name="dataset_version_semver"),
        ]


class LineageRole(models.TextChoices):
    TRAINING = "training", "Training"
    EVALUATION = "evaluation", "Evaluation"


class LineageLink(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE)
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=LineageRole.choices,
                            default=LineageRole.TRAINING)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_version", "dataset_version"],
                                    name="lineage_unique")
        ]


class ModelAlias(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="aliases")
    name = models.CharField(max_length=64)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                related_name="aliases")
    # Written by `model_alias_protect` only (the admin's alias rows save through the
    # services): then only those who manage the model move it.
    protected = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "model aliases"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="alias_unique_per_model")
        ]

    def __str__(self) -> str:
        return self.name


class AliasAction(models.TextChoices):
    SET = "set", "Set"
    MOVED = "moved", "Moved"
    REMOVED = "removed", "Removed"


class ModelAliasEvent(models.Model):
    """One move of an alias, kept when the alias itself is moved or removed: the history
    behind `aliasHistory` and `modelVersionAt`. Written by the alias services only."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="alias_events")
    alias = models.CharField(max_length=64)
    action = models.CharField(max_length=8, choices=AliasAction.choices)
    # Null once removed; a later deleted version leaves the row with a null too.
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    previous_version = models.ForeignKey(ModelVersion, null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["model", "alias", "at"], name="alias_event_at")]

    def __str__(self) -> str:
        return f"{self.alias} {self.action} at {self.at:%Y-%m-%d %H:%M:%S}"


class MetadataEntry(models.Model):
    key = models.ForeignKey(MetadataKey, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(max_length=1000)

    class Meta:
        abstract = True
        ordering = ["key__name"]

    def __str__(self) -> str:
        return f"{self.key.name}={self.value}"


class ModelMetadata(MetadataEntry):
    owner = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="metadata")

    class Meta(MetadataEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="model_md_unique")]
        indexes = [models.Index(fields=["key", "value"], name="model_md_key_value")]


class DatasetMetadata(MetadataEntry):
    owner = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="metadata")

    class Meta(MetadataEntry.Meta):
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="dataset_md_unique")
        ]
        indexes = [models.Index(fields=["key", "value"], name="dataset_md_key_value")]


class ModelVersionMetadata(MetadataEntry):
    owner = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="metadata")

    class Meta(MetadataEntry.Meta):
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="model_version_md_unique")
        ]


class DatasetVersionMetadata(MetadataEntry):
    owner = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE,
                              related_name="metadata")

    class Meta(MetadataEntry.Meta):
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="dataset_version_md_unique")
        ]


class Blob(models.Model):
    """Stored bytes, content-addressed by sha256 within a tenant and shared by files."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="blobs")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    storage_key = models.CharField(max_length=500, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    integrity_error = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sha256"], name="blob_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.size} B)"


class ArtifactFile(Trashable):
    """A file of a model version or a dataset version (exactly one of the two)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True,
                                      on_delete=models.CASCADE, related_name="files")
    dataset_version = models.ForeignKey(DatasetVersion, null=True, blank=True,
                                        on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=1024)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="files")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=200, default="application/octet-stream")
    scan_status = models.CharField(max_length=8, choices=ScanStatus.choices,
                                   default=ScanStatus.PENDING, db_index=True)
    scanner_version = models.CharField(max_length=50, blank=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    release_reason = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(model_version__isnull=False, dataset_version__isnull=True)
                | models.Q(model_version__isnull=True, dataset_version__isnull=False),
                name="file_belongs_to_one_version",
            ),
            # A trashed file's path is free again (restoring it then refuses a clash).
            models.UniqueConstraint(fields=["model_version", "path"],
                                    name="file_path_unique_in_model_version",
                                    condition=models.Q(trashed_at__isnull=True)),
            models.UniqueConstraint(fields=["dataset_version", "path"],
                                    name="file_path_unique_in_dataset_version",
                                    condition=models.Q(trashed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def version(self) -> "ModelVersion | DatasetVersion":
        return self.model_version or self.dataset_version


class UploadState(models.TextChoices):
    OPEN = "open", "Open"
    # Claimed by one completeUpload while it verifies the parts and the sha256.
    COMPLETING = "completing", "Completing"
    COMPLETED = "completed", "Completed"
    ABORTED = "aborted", "Aborted"


# Sessions that hold quota and storage: their bytes may still be arriving or being verified.
ACTIVE_UPLOAD_STATES = (UploadState.OPEN, UploadState.COMPLETING)


class UploadSession(models.Model):
    """A resumable upload in progress; its bytes become a file only on completion."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True,
                                      on_delete=models.CASCADE, related_name="+")
    dataset_version = models.ForeignKey(DatasetVersion, null=True, blank=True,
                                        on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    part_count = models.PositiveIntegerField()
    part_size = models.BigIntegerField()
    content_type = models.CharField(max_length=200, default="application/octet-stream")
    staging_key = models.CharField(max_length=500, unique=True)
    s3_upload_id = models.CharField(max_length=1024, blank=True)
    state = models.CharField(max_length=10, choices=UploadState.choices,
                             default=UploadState.OPEN, db_index=True)
    file = models.ForeignKey(ArtifactFile, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.path} ({self.state})"


# django-guardian direct foreign-key permission tables: joins on an integer FK instead of
# the generic (content_type, object_pk-as-text) pair, so visibility filters stay in SQL.
class RegisteredModelUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


class RegisteredModelGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


class DatasetUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Dataset, on_delete=models.CASCADE)


class DatasetGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Dataset, on_delete=models.CASCADE)
