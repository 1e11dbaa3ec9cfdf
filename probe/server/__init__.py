"""One small HTTP/1.1 server core for the probe's services: the test helper, the collector and the SMS
gateway's delivery-report listener. h11 parses (sans-IO); the sockets, deadlines and caps are ours.

    messages   what a service sees and answers: ``RequestHead`` (to admit), ``Request``, ``Response``, ``Handler``
    limits     ``ServerLimits``: workers, deadlines, the minimum rate, caps
    listener   the listening socket, one server's or shared by several processes
    core       ``HTTPServer``: the loop that reads, admits, hands to workers and writes (how, in its docstring)
"""

from probe.server.core import HTTPServer, ServerStats
from probe.server.limits import ServerLimits
from probe.server.listener import listening_socket
from probe.server.messages import ADMITTED, Admission, Handler, Request, RequestHead, Response

__all__ = [
    "ADMITTED",
    "Admission",
    "HTTPServer",
    "Handler",
    "Request",
    "RequestHead",
    "Response",
    "ServerLimits",
    "ServerStats",
    "listening_socket",
]
