"""Unattended operation: rounds of experiment groups on a schedule, one daemon per database.

lock       one daemon per database (an flock the kernel drops when the process dies)
schedule   when each group is due: from the last completed round and the wall clock
heartbeat  one row per round, kept even when every target failed
rounds     one round of one group: its inputs, the run, its heartbeat
service    the loop: wait, run the due round, sign the chain head, wake the uploader
memory     what a round's threads freed, given back to the system between rounds (glibc)
"""
