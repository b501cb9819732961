"""What MLflow's tracking flow needs stored before a model is registered: experiments, runs
(params, metrics and tags kept simply, as JSON) and MLflow 3 logged models with the files
uploaded for them (blobs of the registry's storage; they become a version's files when the
logged model is registered)."""

from django.conf import settings
from django.db import models

from accounts.models import Tenant
from registry.models import Blob

DEFAULT_EXPERIMENT = "Default"


class Experiment(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE,
                               related_name="mlflow_experiments")
    name = models.CharField(max_length=500)
    tags = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"],
                                               name="mlflow_experiment_unique_name")]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    run_id = models.CharField(max_length=32, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=20, default="RUNNING")
    start_time = models.BigIntegerField(null=True)
    end_time = models.BigIntegerField(null=True)
    params = models.JSONField(default=dict)
    metrics = models.JSONField(default=list)
    tags = models.JSONField(default=dict)
    inputs = models.JSONField(default=list)
    outputs = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.run_id


class LoggedModel(models.Model):
    model_id = models.CharField(max_length=40, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE,
                                   related_name="logged_models")
    run = models.ForeignKey(Run, null=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=250)
    model_type = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=30, default="LOGGED_MODEL_PENDING")
    params = models.JSONField(default=dict)
    tags = models.JSONField(default=dict)
    created_at = models.BigIntegerField()
    updated_at = models.BigIntegerField()

    def __str__(self) -> str:
        return self.model_id


class StoredFile(models.Model):
    """A file uploaded through the tracking surface: its path and its bytes (a blob of the
    registry's storage), until a version is registered from it."""

    path = models.CharField(max_length=1000)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.path


class LoggedModelFile(StoredFile):
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE,
                                     related_name="files")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["logged_model", "path"],
                                               name="mlflow_logged_file_unique_path")]


class RunArtifact(StoredFile):
    """A file logged to a run's artifact root (`mlflow.log_artifact`), outside any logged
    model; it becomes a version's file when the run folder holding it is registered."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "path"],
                                               name="mlflow_run_artifact_unique_path")]
