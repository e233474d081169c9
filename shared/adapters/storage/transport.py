"""The HTTP transport of the storage clients: azure-core's RequestsTransport over a leaner requests session.

azure-core sends every storage request through ``requests.Session.request``, which rebuilds what is the same
for every one of them: the session's settings merged into the request (headers, hooks, params, cookies, proxy
and TLS settings, each through a generic merge), the cookie jar copied and read, the redirect machinery set
up though redirects are off. That is ~10 % of a storage request's client CPU, and a delivered copy makes about
five of them under the GIL the Graph loop shares. ``_AzureCoreSession`` prepares the request as requests does
(method, URL, the session's default headers under the request's own, body) and hands it straight to the
connection adapter, whose answer and errors (ConnectionError, timeouts, SSL) azure-core maps as before.

What it leaves out, on purpose: environment settings (proxy variables, ~/.netrc, the CA bundle path; off here as
before), cookies (Azure Storage sets none; a session would otherwise keep and resend them) and redirects (azure-core
asks for none). A request that asks for any of those, or for files, params or hooks, goes the full way.
"""

from __future__ import annotations

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.core.pipeline.transport._bigger_block_size_http_adapters import BiggerBlockSizeHTTPAdapter
from requests.hooks import default_hooks
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict
from urllib3.util.retry import Retry


class _AzureCoreSession(requests.Session):
    """A requests session for what azure-core's RequestsTransport sends: no redirects, cookies, params or proxies."""

    def request(self, method, url, params=None, data=None, headers=None, cookies=None, files=None, auth=None,
                timeout=None, allow_redirects=True, proxies=None, hooks=None, stream=None, verify=None, cert=None,
                json=None):
        if (params or cookies or files or auth or hooks or json is not None or allow_redirects or proxies
                or self.trust_env or self.cookies or self.params or self.auth or self.proxies):
            return super().request(method, url, params=params, data=data, headers=headers, cookies=cookies,
                                   files=files, auth=auth, timeout=timeout, allow_redirects=allow_redirects,
                                   proxies=proxies, hooks=hooks, stream=stream, verify=verify, cert=cert, json=json)
        merged = CaseInsensitiveDict(self.headers)  # the session's defaults, the request's own headers over them
        for name, value in (headers or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        prepared = PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url(url, None)
        prepared.prepare_headers(merged)
        prepared.prepare_body(data, None)
        prepared.hooks = default_hooks()
        response = self.get_adapter(prepared.url).send(
            prepared, stream=bool(stream), timeout=timeout, verify=self.verify if verify is None else verify,
            cert=self.cert if cert is None else cert, proxies={})
        if not stream:
            response.content  # noqa: B018 - read the body now, as Session.send does
        return response


def storage_transport() -> RequestsTransport:
    """azure-core's RequestsTransport as it sets up its own session (no environment settings, urllib3's retries
    off: azure-core's retry policies decide), over ``_AzureCoreSession``. One per client; sessions are not shared."""
    session = _AzureCoreSession()
    session.trust_env = False
    adapter = BiggerBlockSizeHTTPAdapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False))
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(session=session, session_owner=True, use_env_settings=False)
