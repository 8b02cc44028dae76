"""A public, read-only HTTPS face of a region node: JWKS, issuer metadata and the status list."""

from nodes.public.documents import (
    authority_issuer,
    authority_metadata,
    issuer_metadata,
    region_jwks,
    status_list_path,
    status_list_url,
)
from nodes.public.server import PublicDocuments, PublicServer, server_tls_context

__all__ = [
    "PublicDocuments",
    "PublicServer",
    "authority_issuer",
    "authority_metadata",
    "issuer_metadata",
    "region_jwks",
    "server_tls_context",
    "status_list_path",
    "status_list_url",
]
