"""The Alpaca adapter: alpaca-py behind the `broker.contract.Broker` protocol.

Composition (what a paper runner wires once):

    guard = EndpointGuard(live=config.live, allow_live=secrets.allow_live)
    clients = build_clients(config, secrets, guard=guard, wall=clock)
    broker = AlpacaBroker(clients, journal, run_id=run_id, clock=clock, guard=guard, sleep=clock.sleep,
                          kill_switch=KillSwitch(state_dir / "KILL"))
    Reconciler(broker).run()          # before any strategy job, and every few minutes
    broker.submit(intent)             # for each OrderIntent
"""
