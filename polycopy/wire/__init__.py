"""The venue's wire shapes, parsed: text or decoded JSON from outside -> frozen typed values, or
`polycopy.errors.Malformed` with a `kind`. Pure: no I/O, no SDK.

jsontext (bounded JSON), fields (one field's rules), http (the retry rule, Retry-After), trade
(a fill as a feed reports it), rtds, data_api (v2), gamma, clob (REST answers), clob_ws (user
and market events), node (a Polygon node's frames), settlement and abi_settlement (calldata);
source_fill turns a parsed trade into the SourceFill message with its dedupe key.
"""
