"""The pure decision core: decide(snapshot, book, params) -> target; orders_to_reach(target, book, prices) -> intents."""
