"""The execution side of the venue: order math (orders), EIP-712 and signing (eip712, clob), the
one module that imports the venue's SDK (sdk), redemption (redeem), placing (placer, followup, parking), the posters of each
mode (posters, paper), order heartbeats; and what a settlement means to us (mempool: its legs and
the source's provisional fills). Parsing lives in polycopy.wire, network I/O in polycopy.clients."""
