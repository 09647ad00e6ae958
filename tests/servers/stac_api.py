"""The real stac-fastapi-pgstac application, behind the fault injector.

Run by the tests as `uvicorn tests.servers.stac_api:app`, with PGHOST/PGPORT/PGUSER/
PGPASSWORD/PGDATABASE pointing at the throwaway PostgreSQL + pgstac they started.
"""

from stac_fastapi.pgstac.app import create_app

from tests.servers.faults import Faults

app = Faults(create_app())
