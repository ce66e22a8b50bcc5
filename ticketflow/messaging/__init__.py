"""The event kernel every context uses.

* ``ticketflow.messaging.schemas`` -- the payload contract, one schema per event type;
* ``ticketflow.messaging.outbox.emit`` -- record an event inside a service's transaction;
* ``ticketflow.messaging.handlers.handles`` -- declare a context's reaction to an event;
* ``ticketflow.messaging.dispatch`` -- apply an event exactly once (inbox, retries, dead letters);
* ``ticketflow.messaging.transports`` -- Kafka, or in-process for the embedded default.

The processes that move events (relay, consumer runner, replay) live in the ``relay`` package.
"""
