"""Everything that talks to the venue over the network: REST clients (http, clob_rest, data_api,
gamma, positions, probe) and the one websocket runner (ws) that every feed uses (RTDS, the
Polygon node, the CLOB user and market channels: user_stream, book_cache), with what their I/O
threads share (feed). What the answers mean is parsed in polycopy.wire.
"""
