"""Provider YAML in, validated `ProviderSpec` out, with one resolved view per resource.

`dialect` says what a provider file may contain, `provider` checks it as a whole and resolves
each resource once (`resolved`), `loading` reads files (and names file and key when one is
wrong), `translate` writes the parts dlt's `rest_api` takes. Neither Dagster nor dlt is
imported, so a spec can be checked without either.
"""

from .dialect import (
    ACCOUNT_COLUMN,
    DEFAULT_ACCOUNT,
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ColumnHint,
    CursorPaginator,
    EndpointSpec,
    IncrementalSpec,
    OAuth2Auth,
    OffsetPaginator,
    PageNumberPaginator,
    PaginatorSpec,
    QualitySpec,
    ResourceSpec,
)
from .loading import (
    PROVIDERS_DIR,
    PROVIDERS_DIR_VARIABLE,
    ProviderSpecError,
    load_provider,
    load_providers,
    parse_provider,
    provider_folders,
    resolve_url,
)
from .provider import ProviderSpec
from .resolved import ResourceView, column_name
from .translate import columns_config, endpoint_params, paginator_config

__all__ = [
    "ACCOUNT_COLUMN",
    "DEFAULT_ACCOUNT",
    "PROVIDERS_DIR",
    "PROVIDERS_DIR_VARIABLE",
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "ColumnHint",
    "CursorPaginator",
    "EndpointSpec",
    "IncrementalSpec",
    "OAuth2Auth",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PaginatorSpec",
    "ProviderSpec",
    "ProviderSpecError",
    "QualitySpec",
    "ResourceSpec",
    "ResourceView",
    "column_name",
    "columns_config",
    "endpoint_params",
    "load_provider",
    "load_providers",
    "paginator_config",
    "parse_provider",
    "provider_folders",
    "resolve_url",
]
