"""Blobs in object storage, one module per job:

- `keys`: storage keys, the resumable upload's part layout and its signed part tokens;
- `staging`: bytes received and hashed (`HashingReader`, `Staged`), not yet a blob;
- `filesystem`: the local backend, with its emulation of S3's multipart upload;
- `s3`: the S3 backend (django-storages' S3Storage and its boto3 client) and a seekable reader;
- `backends`: the configured backend;
- `blobs`: the blob lifecycle on database rows (create, release, collect, verify, orphans).

Quotas are a business rule: `registry.services.quota_check`.
"""
