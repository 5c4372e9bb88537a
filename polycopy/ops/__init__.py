"""What an operator runs and reads beside the actors: logs, metrics, alerts, CSVs, the live
view, the report, recordings, preflight checks and the credentials helper."""
