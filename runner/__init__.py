"""The long-running paper trader: scheduled jobs around the shared decision core and the Alpaca adapter."""
