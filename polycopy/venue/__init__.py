"""The execution side of the venue: order math (orders), EIP-712 and signing (eip712, clob),
placing and the posters, order heartbeats; and what venue facts mean to us: a source fill's
identity (source_fill) and a settlement's legs and provisional fills (mempool). Parsing lives in
polycopy.wire, network I/O in polycopy.clients."""
