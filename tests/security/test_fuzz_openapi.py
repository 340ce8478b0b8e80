"""A bounded schemathesis fuzz of the server's OpenAPI document: no input gives a 5xx.

Every operation gets ``CASES`` generated requests (valid and invalid, per the document), half signed
in (paths steered into the fuzz account's own tree, so the handlers run) and half not, against the real
server and the real SeaweedFS. Issue 15, "How to prove it".
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from tests.integration.test_server_helpers import DM
from tests.support.servers import ServerProcess

CASES = int(os.environ.get("GSDM_FUZZ_CASES", "100"))
#: refget/load stores what it is given in the shared refget store; its input is fuzzed by the FASTA tests
SKIP = {("POST", "/refget/load")}


@pytest.mark.timeout(600)
def test_no_input_gives_a_server_error(dm_server: ServerProcess, make_account: Any) -> None:
    acct = make_account("fuzz")
    dm = DM(acct.server_url, acct.username, acct.password)
    dm.mkdir("d")
    dm.upload("d/a.txt", b"hello\n")
    dm.upload("d/t.tab", b"UNIQID\tNAME\ts1\ng\td\t1\n")
    schema = schemathesis.openapi.from_url(f"{dm_server.url}/openapi.json")
    session = requests.Session()
    session.trust_env = False
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP:
            continue
        operations += 1
        strategy = st.one_of(
            op.as_strategy(generation_mode=GenerationMode.POSITIVE),
            op.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=CASES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, signed_in=st.booleans(), own=st.booleans())
        def run(case: Any, signed_in: bool, own: bool) -> None:
            if own and "path" in (case.path_parameters or {}):
                prefix = f"users/{dm.user}/" if "v1.0" not in case.path else f"Home/{dm.user}/"
                case.path_parameters["path"] = prefix + str(case.path_parameters["path"])
            cookies = {"gs-token": dm.token} if signed_in else None
            try:
                resp = case.call(base_url=dm_server.url, session=session, cookies=cookies, timeout=60)
            except requests.RequestException as exc:  # a reset or a hang is a failure too
                failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {exc}")
                return
            if resp.status_code >= 500:
                digest = hashlib.md5(repr(case.body).encode()).hexdigest()[:8]
                failures.append(
                    f"{case.method} {case.formatted_path} query={case.query} body#{digest}: "
                    f"{resp.status_code} {resp.text[:200]}"
                )

        run()
    dm.close()
    assert operations >= 30
    assert not failures, "\n".join(failures[:20])
