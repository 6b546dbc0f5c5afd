"""NCMEC hash sharing through python-threatexchange's own client, pointable at another address.

The library's ``NCMECHashAPI`` only knows NCMEC's published environments (an enum of URLs);
ThreatExchange's client takes ``endpoint_override`` and TCAP's a base URL. This subclass adds the
same ``base_url`` (a test server, a proxy) and changes nothing else: requests, XML parsing, paging
and feedback calls stay the library's.
"""

from __future__ import annotations

from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEnvironment, NCMECHashAPI
from threatexchange.exchanges.impl.ncmec_api import NCMECCollabConfig, NCMECSignalExchangeAPI


class NCMECClient(NCMECHashAPI):
    def __init__(self, username: str, password: str, environment: NCMECEnvironment, base_url: str | None = None) -> None:
        super().__init__(username, password, environment)
        if base_url:
            self._base_url = base_url.rstrip("/")  # the library keeps the environment's URL here and nowhere else


class NCMECExchangeAPI(NCMECSignalExchangeAPI):
    def __init__(self, collab: NCMECCollabConfig, username: str, password: str, base_url: str | None = None) -> None:
        super().__init__(collab, username, password)
        self.base_url = base_url

    def get_client(self, environment: NCMECEnvironment) -> NCMECHashAPI:
        return NCMECClient(self._username, self._password, environment, self.base_url)
