"""Getting measurements out: signed batches to a collector, or a bundle file when nothing gets out.

    protocol  the batch format (pydantic), shared by the probe, bundles and the collector
    queue     what is not yet acknowledged, as batches; acknowledgements
    uploader  HTTP(S) to the collector, through a proxy if configured, with backoff
    bundle    batches written to a file, for a USB hand-over, and a bundle's check

Nothing is deleted: the probe's database keeps every measurement, and a collector's
acknowledgement only moves the queue on. A batch sent twice is stored once.
"""
