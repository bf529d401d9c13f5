"""The quickstart's main job: run the daemon on a temporary store and enrich sample domains.

It starts ``enrichd serve`` on a free port with a throw-away token, sends one batch over the REST
API, follows the jobs to the end and prints what each module produced (or why it could not).
Extra arguments are passed to ``enrichd serve`` (for example ``--config config.toml``).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SAMPLE_DOMAINS = ["costco.com", "walmart.com", "target.com"]
SAMPLE_CASE_STUDIES = Path(__file__).resolve().parents[1] / "samples" / "case_studies.csv"


def main(argv: list[str]) -> int:
    """Run the demo; returns the process exit code."""
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="enrichd-demo-") as data_dir:
        env = {**os.environ, "ENRICHD_API_TOKEN": token}
        # The sample case studies (fictional customers) give m13 something to match.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "enrichd",
                "case-studies",
                "import",
                str(SAMPLE_CASE_STUDIES),
                "--data-dir",
                data_dir,
            ],
            check=True,
            env=env,
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "enrichd",
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
                data_dir,
                *argv,
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stderr is not None
        url = None
        for line in proc.stderr:
            sys.stderr.write(line)
            m = re.search(r"enrichd listening on (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            print("the daemon did not start; see its log above", file=sys.stderr)
            return 1
        try:
            return _run(url, token, sandbox="--sandbox" in argv)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _builtin_modules(client: httpx.Client) -> list[str]:
    """The built-in plugin's modules, saying which installed plugins' modules are left out."""
    plugins = client.get("/healthz").json()["plugins"]
    builtin = [m for p in plugins if p["name"] == "builtin" for m in p["modules"]]
    others = [m for p in plugins if p["name"] != "builtin" for m in p["modules"]]
    if others:
        print(
            f"\nleaving out {', '.join(others)}: the sandbox simulates only the built-in "
            "upstreams, and sandbox mode disables every other source"
        )
    return builtin


def _run(url: str, token: str, *, sandbox: bool) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30, trust_env=False) as client:
        body: dict[str, object] = {"domains": SAMPLE_DOMAINS}
        if sandbox:
            body["modules"] = _builtin_modules(client)
        batch = client.post("/api/v1/enrich/batch", json=body).json()
        print(f"\nbatch {batch['batch_id']}: {batch['queued_count']} jobs queued")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            view = client.get(f"/api/v1/enrich/batch/{batch['batch_id']}").json()
            if view["status"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        for job in batch["jobs"]:
            domain = job["domain"]
            results = client.get(
                f"/api/v1/enrich/{domain}/results", params={"job_id": job["job_id"]}
            ).json()
            print(f"\n== {domain}: {results['status']}")
            for mid, st in results["module_statuses"].items():
                line = f"  {mid:24} {st['status']:10}"
                if mid in results["results"]:
                    data = results["results"][mid]
                    source = st.get("source") or "?"
                    line += f" {st['data_points']:3} points from {source:14} {_summary(mid, data)}"
                elif st.get("error"):
                    line += f" {st['error']}: {st.get('message') or ''}"
                print(line[:180])
        citations = [c for mid in results["source_citations"].values() for c in mid][:2]
        if citations:
            print("\nCitations look like:", "; ".join(c["title"] for c in citations))
    return 0


#: The fields worth a glance per module; others show their first few fields.
_HEADLINES = {
    "m01_company_context": ("company_name", "industry", "hq", "employees"),
    "m02_tech_stack": ("commerce_platform", "cms", "search_provider", "monthly_spend_usd"),
    "m03_traffic": ("monthly_visits", "bounce_rate", "global_rank"),
    "m04_traffic_sources": ("channels",),
    "m05_competitors": ("competitors",),
    "m07_financials": ("revenue", "currency", "revenue_growth", "note"),
    "m08_stock_info": ("ticker", "exchange", "price", "market_cap", "note"),
    "m09_analyst_ratings": ("consensus", "total_analysts", "target_mean_price", "note"),
    "m10_hiring_signals": ("open_roles", "velocity", "relevant_roles"),
    "m11_exec_quotes": ("quotes",),
    "m12_trigger_events": ("top_event",),
    "m13_case_study_match": ("primary_match",),
    "m14_icp_scoring": ("score", "tier", "confidence", "existing_customer"),
    "m15_displacement_angle": ("generated_by", "current_competitor", "difficulty", "angle"),
}


def _short(value: object) -> str:
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, dict):
        for key in ("title", "customer"):
            if key in value:
                return repr(value[key])[:60]
        return "{" + ", ".join(f"{k}: {v}" for k, v in list(value.items())[:4]) + "}"
    return repr(value)


def _summary(module_id: str, data: dict[str, object]) -> str:
    keys = _HEADLINES.get(module_id) or tuple(data)[:3]
    return ", ".join(f"{k}={_short(data[k])}" for k in keys if data.get(k) not in (None, ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
