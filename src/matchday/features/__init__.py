"""Point-in-time features: pure functions over the match and odds frames, no I/O.

Every feature of a match uses only matches played on earlier days: matches are processed one match day at a
time, and a day's results update the state only after all of that day's matches have their features. (Kickoff
times exist only from 2019-20, so same-day ordering would leak in some seasons and not others.)
"""
