import strawberry

from scanning import models

ScanVerdictEnum = strawberry.enum(models.Verdict, name="ScanVerdict")
FindingSeverityEnum = strawberry.enum(models.Severity, name="FindingSeverity")
ScanTriggerEnum = strawberry.enum(models.ScanTrigger, name="ScanTrigger")
