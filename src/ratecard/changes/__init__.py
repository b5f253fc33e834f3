"""Price changes told to subscribers: the change log, webhooks and their outbox.

- records: the change log's entry and the change feed's filter;
- changelog: entries written in the committing transaction (the hook ingestion calls), read
  by cursor; log_head: the seq counter they are numbered from;
- outbox, subscriptions, signing, destinations, backoff: messages and where they go;
- delivery: the loop that sends them while holding the `delivery` lease (its backlog and attempt
  counters are recorded through ratecard.metrics);
- atom: the change feed as Atom 1.0 (the routes are the web edge's: `web.api.change_feed`,
  `web.admin.webhooks`);
- retention: what the maintenance job prunes from the change log and the outbox.
"""
