"""Errors a user can act on: which provider, which resource, which URL path, what to do."""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every error raised while talking to a provider."""


class ProviderHTTPError(ProviderError):
    """The API answered with an error status that retrying will not fix (or retries ran out)."""

    def __init__(
        self,
        provider: str,
        resource: str,
        path: str,
        status: int,
        hint: str,
        reason: str | None = None,
    ) -> None:
        self.provider, self.resource, self.path, self.status = provider, resource, path, status
        self.reason = reason
        said = f' The provider said: "{reason}".' if reason else ""
        message = f"{provider}/{resource}: GET {path} answered HTTP {status}.{said} {hint}"
        super().__init__(message.rstrip())


class ProviderResponseError(ProviderError):
    """The API answered 2xx with something that is not the documented JSON envelope."""

    def __init__(self, provider: str, resource: str, path: str, problem: str) -> None:
        self.provider, self.resource, self.path = provider, resource, path
        super().__init__(f"{provider}/{resource}: GET {path}: {problem}")


class InsecureURLError(ProviderError):
    """Credentials would travel in clear text: only HTTPS is allowed, loopback excepted."""


class MissingCredentialsError(ProviderError):
    """A secret the provider's auth needs has no value in the environment."""


class ProviderLoadError(ProviderError):
    """A load failed; the message is redacted and the original chain dropped on purpose."""
