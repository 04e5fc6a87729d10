"""A provider as a whole: its client, partitions, accounts and resources, checked together.

Model-level rules live here (a path and a paginator for every resource, one retry policy per
provider, a merge needs a key, accounts name exactly their auth's secrets), and the resolved
view of every resource is built once, as the provider loads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from .dialect import (
    DEFAULT_ACCOUNT,
    SECRET_FIELDS,
    AccountSpec,
    ClientSpec,
    EnvRef,
    ErrorHandler,
    FreshnessSpec,
    Located,
    OAuth2Auth,
    PartitionSpec,
    RateLimit,
    ResourceDefaults,
    ResourceSpec,
    Strict,
    snake_name,
)
from .event_feed import EventFeedSpec, WebhooksSpec, check_event_feed
from .resolved import ResourceView, resolve
from .roles import role_problems
from .shape_checks import check_record_shapes


class ProviderSpec(Strict):
    name: str
    description: str = ""
    owners: tuple[str, ...] = ()
    partitions: PartitionSpec
    freshness: FreshnessSpec = Field(default_factory=FreshnessSpec)
    client: ClientSpec
    resource_defaults: ResourceDefaults = Field(default_factory=ResourceDefaults)
    error_handler: ErrorHandler | None = None
    resources: tuple[ResourceSpec, ...] = Field(min_length=1)
    accounts: tuple[AccountSpec, ...] = ()
    account_isolation: Literal["column", "dataset"] = "column"
    rate_limit: RateLimit | None = None
    event_feed: EventFeedSpec | None = None
    webhooks: WebhooksSpec = Field(default_factory=WebhooksSpec)

    _views: tuple[ResourceView, ...] = PrivateAttr(default=())
    _file: str = PrivateAttr(default="")
    _provider_name = field_validator("name")(classmethod(lambda cls, value: snake_name(value)))

    # Resources ---------------------------------------------------------------------------------

    @property
    def views(self) -> tuple[ResourceView, ...]:
        """Every resource, resolved (defaults, keys, datasets), in the YAML's order."""
        return self._views

    def view(self, name: str) -> ResourceView:
        for view in self._views:
            if view.name == name:
                return view
        raise KeyError(f"{self.name} has no resource '{name}'")

    @property
    def windowed(self) -> tuple[ResourceView, ...]:
        return tuple(view for view in self._views if view.windowed)

    @property
    def snapshots(self) -> tuple[ResourceView, ...]:
        return tuple(view for view in self._views if not view.windowed)

    # Accounts ----------------------------------------------------------------------------------

    @property
    def multi_account(self) -> bool:
        """Accounts declared: rows carry their account, and runs are per account."""
        return bool(self.accounts)

    @property
    def account_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts) or (DEFAULT_ACCOUNT,)

    @property
    def accounts_share_tables(self) -> bool:
        return self.multi_account and self.account_isolation == "column"

    def account(self, name: str) -> AccountSpec | None:
        """The declared account `name`; None for the implicit single account."""
        for account in self.accounts:
            if account.name == name:
                return account
        if name == DEFAULT_ACCOUNT and not self.accounts:
            return None
        raise KeyError(f"{self.name} has no account '{name}'")

    def dataset_of(self, account: str = DEFAULT_ACCOUNT) -> str:
        """The destination dataset (schema): one per provider, or per account when isolated."""
        if self.multi_account and self.account_isolation == "dataset":
            return f"{self.name}_{account}"
        return self.name

    # Client ------------------------------------------------------------------------------------

    def secret_refs(self, account: str = DEFAULT_ACCOUNT) -> dict[str, EnvRef]:
        """The environment variable of each secret, for one account."""
        declared = self.account(account)
        if declared is not None:
            return dict(declared.credentials)
        return {name: getattr(self.client.auth, name) for name in self.secret_fields}

    def rate_limit_of(self, account: str = DEFAULT_ACCOUNT) -> RateLimit | None:
        """An account's own budget, else the provider's (none: requests go as fast as answered)."""
        declared = self.account(account)
        return (declared.rate_limit if declared else None) or self.rate_limit

    @property
    def retry_policy(self) -> ErrorHandler:
        return self.error_handler or self.resource_defaults.endpoint.error_handler or ErrorHandler()

    @property
    def file(self) -> str:
        """The YAML file the provider was read from (as errors name it; empty if built in code)."""
        return self._file or f"{self.name}.yaml"

    def secret_key(self, field: str, account: str = DEFAULT_ACCOUNT) -> str:
        """Where in the YAML a secret's variable is named: `client.auth.api_key`, or an
        account's `accounts[eu].credentials.api_key`."""
        if self.account(account) is not None:
            return f"accounts[{account}].credentials.{field}"
        return f"client.auth.{field}"

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return SECRET_FIELDS[type(self.client.auth)]

    # Validation --------------------------------------------------------------------------------

    @model_validator(mode="after")
    def _consistent(self) -> ProviderSpec:
        seen: set[str] = set()
        views = []
        for index, resource in enumerate(self.resources):
            where = ("resources", index)
            if resource.name in seen:
                raise Located((*where, "name"), f"duplicate resource '{resource.name}'")
            seen.add(resource.name)
            view = resolve(self, index)
            self._check_endpoint(view, resource, where)
            if view.write_disposition == "merge" and not view.primary_key:
                raise Located((*where, "primary_key"), "merge needs a primary_key")
            for key, problem in role_problems(resource.roles):
                raise Located((*where, "roles", *key), problem)
            views.append(view)
        by_name = {v.name: v for v in views}
        for index, (resource, view) in enumerate(zip(self.resources, views, strict=True)):
            check_record_shapes(self.name, view, resource, by_name, ("resources", index))
            if view.deletes is not None:
                where = ("resources", index) if resource.deletes else ("resource_defaults",)
                self._check_deletes(view, {v.name: v for v in views}, (*where, "deletes"))
        self._check_accounts()
        check_event_feed(self.event_feed, {view.name: view for view in views}, self.name)
        self._views = tuple(views)
        return self

    def _check_deletes(
        self, view: ResourceView, views: dict[str, ResourceView], where: tuple[str | int, ...]
    ) -> None:
        deletes = view.deletes
        assert deletes is not None
        if view.record_key is None:
            raise Located(
                where,
                f"{view.name}: deletes name records by their primary key, which must be one field",
            )
        if deletes.absent_from_snapshot and view.windowed:
            raise Located(
                (*where, "absent_from_snapshot"),
                f"{view.name} is windowed (it has an incremental cursor): a window never lists "
                "every record, so absence from it says nothing; use when, events or webhooks",
            )
        if deletes.webhooks and not self.webhooks.enabled:
            raise Located(
                (*where, "webhooks"),
                f"{self.name} has `webhooks: {{enabled: false}}`: no delivery can carry "
                f"{', '.join(deletes.webhooks)}; remove them or enable webhooks",
            )
        if deletes.events is not None:
            events = views.get(deletes.events.resource)
            if events is None or events is view:
                raise Located(
                    (*where, "events", "resource"),
                    f"'{deletes.events.resource}' is not another resource of {self.name}",
                )

    def _check_endpoint(
        self, view: ResourceView, resource: ResourceSpec, where: tuple[str | int, ...]
    ) -> None:
        endpoint = view.endpoint
        if not endpoint.path:
            raise Located((*where, "endpoint", "path"), "every resource needs a path")
        if endpoint.paginator is None:
            raise Located(
                (*where, "endpoint", "paginator"),
                "no paginator: declare one (single_page for unpaged endpoints)",
            )
        if not endpoint.data_selector:
            raise Located(
                (*where, "endpoint", "data_selector"),
                "no data_selector: name the key that holds the records ('$' for a bare list)",
            )
        if resource.endpoint.error_handler and resource.endpoint.error_handler != (
            self.retry_policy
        ):
            raise Located(
                (*where, "endpoint", "error_handler"),
                "retries are per provider: put error_handler in resource_defaults.endpoint",
            )

    def _check_accounts(self) -> None:
        names: set[str] = set()
        for index, account in enumerate(self.accounts):
            where = ("accounts", index)
            if account.name in names:
                raise Located((*where, "name"), f"duplicate account '{account.name}'")
            names.add(account.name)
            given, needed = set(account.credentials), set(self.secret_fields)
            if given != needed:
                raise Located(
                    (*where, "credentials"),
                    f"{self.client.auth.type} auth needs exactly {sorted(needed)}, "
                    f"got {sorted(given)}",
                )
            if account.token_url is not None and not isinstance(self.client.auth, OAuth2Auth):
                raise Located((*where, "token_url"), "token_url is for oauth2 auth only")
