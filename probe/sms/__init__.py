"""SMS reachability: three back-ends that send one test SMS (or check a gateway) and conclude.

    conclusion   one conclusion per measurement, and its conservative verdict
    at_port      deadline-bounded line I/O with an AT modem (pyserial: devices, ``socket://``)
    at_modem     the AT back-end: preflight, self-loop SMS, status report and receipt
    smpp_pdu     the few SMPP 3.4 PDUs the SMPP back-end speaks
    smpp         the SMPP back-end: TCP/TLS reachability, bind, submit, receipt
    http_gateway the HTTP gateway back-end: staged reachability, Kannel ``sendsms`` with reports

The typed results (``SMSTestKeys``), the nonce and the message text are ``probe.model.sms``.
No phone number, password, IMSI, IMEI, ICCID or cell id is ever recorded: numbers come from the
config (``SecretStr``) and go only to the modem, the SMSC or the gateway. Identifiers an operator
could join with its own records (the nonce, message references) stay in the local database's
``sms_messages``/``sms_events`` tables, never in the exported test keys.
"""
