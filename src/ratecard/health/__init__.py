"""Health checks for load balancers and Kubernetes, knowing nothing of prices or of the app.

- check_registry: named checks, each time-boxed, cached and single-flight;
- checks: the checks an instance runs (database, schema, Redis, catalog age, coordinator),
  each built from the parts it reads;
- instance_checks: the registry of one instance, and the IETF health document of its results;
- probe_db: the driver-level database connection the checks use.

The probes (`/health/*`) are the web edge's: `ratecard.web.health_probes`. The in-process entry
point `get_health_check_data()` builds an app, so it lives above the app factory, in
`ratecard.probe_app` (and `optimized_startup`).
"""
