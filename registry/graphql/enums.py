import strawberry

from registry import models

StatusEnum = strawberry.enum(models.Status, name="Status")
VisibilityEnum = strawberry.enum(models.Visibility, name="Visibility")
VocabularyUsageEnum = strawberry.enum(models.VocabularyUsage, name="VocabularyUsage")
VersionStateEnum = strawberry.enum(models.VersionState, name="VersionState")
ScanStatusEnum = strawberry.enum(models.ScanStatus, name="ScanStatus")
UploadStateEnum = strawberry.enum(models.UploadState, name="UploadState")
AliasActionEnum = strawberry.enum(models.AliasAction, name="AliasAction")
