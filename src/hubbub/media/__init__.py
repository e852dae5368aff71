"""Media: the bytes of uploaded files (``blobs``), the rules on what may be uploaded and how it
is served (``types``), temporary links to the bytes (``signing``), the streaming parser of a
browser's form upload (``multipart``) and the sweep that frees what no message carries
(``sweep``). The HTTP service itself is ``hubbub.web.media``."""
