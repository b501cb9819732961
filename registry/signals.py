from django.dispatch import Signal

# Sent inside the creating transaction with `file=<ArtifactFile>`.
file_created = Signal()
