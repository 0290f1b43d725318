"""The simulated world's figures: which traffic exists, how much of it, at what pace,
from which networks and on which phones. Every figure is a named constant here; the
generators (`tools.simulation.traffic`) only combine them."""

from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
SIMULATED_BACKEND = "simulated"
ATTACKS = ("script", "proxy", "farm", "drip")  # written unless --attacks says otherwise
# Every attack the simulator knows; the others only when asked for (see each one).
ALL_ATTACKS = (*ATTACKS, "churn", "residential", "small", "stealth")
TRAPS = ("village", "viral")  # written unless --traps says otherwise
ALL_TRAPS = (*TRAPS, "workplace", "loyal", "province", "campus")
# The first traps and attacks draw their addresses from one shared generator, in this
# order; the newer kinds come after them (with generators of their own), so asking for
# those changes nothing of the others. The small attack is last: it sizes itself on
# the ballots its case already has.
RUN_ORDER = (
    "village", "viral", "script", "proxy", "farm", "drip", "churn",
    "workplace", "loyal", "province", "campus", "residential", "stealth", "small",
)  # fmt: skip
HONEST = "honest"

DEFAULT_DAYS = 5
DEFAULT_BALLOTS = 10_000
CHUNK_SIZE = 2_000  # ballots per bulk_create: memory stays flat however large the run

# Honest traffic. Relative votes per Beijing hour: quiet 02–05h, lunch and 19–21h peaks.
HOUR_WEIGHTS = (
    2.0, 1.0, 0.4, 0.3, 0.3, 0.6, 1.5, 3.5, 4.5, 5.0, 5.0, 6.0,
    8.0, 7.0, 5.0, 4.5, 4.5, 5.0, 6.0, 8.5, 9.0, 8.0, 5.5, 3.5,
)  # fmt: skip
POPULARITY_EXPONENT = 0.8  # case weight = 1 / rank**exponent
SUPPORTER_POPULARITY_EXPONENT = 0.4  # flatter: every case has its own supporters
SUPPORTER_SHARE = 0.45
SUPPORTER_SINGLE_CHOICE = 0.65
SUPPORTER_DAILY = (0.3, 0.95)  # chance a supporter votes on a given day
BROWSER_DAILY = (0.05, 0.4)
BROWSER_CHOICE_COUNTS = ((1, 20), (2, 25), (3, 20), (4, 12), (5, 9), (6, 6), (7, 4), (8, 4))
NEW_FOLLOWER_SHARE = 0.3  # followed during the campaign, minutes before their first vote
NETWORK_MIX = (("nat", 55), ("home", 25), ("v6", 20))
NAT_REGIONS = 24
NAT_BALLOTS_PER_ADDRESS = 12  # how shared a carrier NAT egress address is
NAT_ADDRESSES_PER_SUBNET = 4
MIN_NAT_ADDRESSES = 200
IPV6_SUBNETS = 60
WECHAT_USER_AGENTS = 420
NON_WECHAT_SHARE = 0.12
USER_AGENT_POPULARITY_EXPONENT = 0.9
# Seconds between the page being served and the ballot cast (lognormal median, sigma).
DWELL_FIRST = (35.0, 0.8)
DWELL_RETURNING = (20.0, 0.8)
# A reader's dwell is cut to the site's form window: at least 2.2 s (the site refuses
# a form sent faster than CASEVOTE_MIN_DWELL_SECONDS, 2 s; simulate() refuses to run
# if that setting is above the fastest reader here) and at most the form's lifetime,
# CASEVOTE_FORM_MAX_AGE (a reader who stays longer reloads the page).
DWELL_SHORTEST = 2.2
FOLLOW_LAG = (90.0, 0.8)  # a new follower: seconds from following to casting
FOLLOW_LAG_MIN = 20.0
# A few honest followers (traps included) unfollow, days after their last vote
# (lognormal median and sigma, in days: about one in four of them within a day).
HONEST_UNFOLLOW_SHARE = 0.02
HONEST_UNFOLLOW_DAYS = (2.0, 1.0)

# Traps: honest, must not be flagged.
VILLAGE_BALLOTS = (150, 250)
VILLAGE_SINGLE_CHOICE = 0.25
VILLAGE_NEW_FOLLOWERS = 0.6
VILLAGE_ARRIVAL_MINUTES = 45.0  # mean minutes after the chief's message
VILLAGE_HOURS = 3.5
VIRAL_SHARE = 0.15  # of --ballots
VIRAL_MIN_BALLOTS = 1_000
VIRAL_SINGLE_CHOICE = 0.6
VIRAL_NEW_FOLLOWERS = 0.8
VIRAL_ARRIVAL_MINUTES = 100.0
VIRAL_HOURS = 8.0
# A workplace: the boss posts in the staff group at 08:30 on a weekday; the staff vote
# from the office Wi-Fi (one NAT address, a second in its /24 when the hour is full).
WORKPLACE_BALLOTS = (120, 250)
WORKPLACE_MESSAGE_HOURS = (8.5, 8.75)  # when the boss posts, Beijing time
WORKPLACE_UNTIL_HOUR = 10.5  # arrivals are cut here (two hours after 08:30)
WORKPLACE_ARRIVAL_MINUTES = 25.0
WORKPLACE_NEW_FOLLOWERS = 0.5
WORKPLACE_SINGLE_CHOICE = 0.4
# A loyal base: residents who vote for their case every day at their habit hour, and
# know the page by heart.
LOYAL_VOTERS = (60, 120)
LOYAL_DAILY = 0.9
LOYAL_HABIT_HOURS = (8.0, 22.0)  # habit hours, ±1 h each day: never past midnight
LOYAL_SPREAD_HOURS = 1.0
LOYAL_SINGLE_CHOICE = 0.8
LOYAL_DWELL = (7.0, 0.5)  # lognormal median (s) and sigma, cut like any reader's
# A case popular in one province: ordinary voters on that province's networks.
PROVINCE_BALLOTS = (600, 1_000)
PROVINCE_HOME_BLOCKS = 3  # /16s of home lines that belong to the province
PROVINCE_IPV6_SUBNETS = 3  # of the carriers' /48s
# A campus: students hear of it in class groups over two evenings; the campus network
# leaves through a few NAT addresses.
CAMPUS_STUDENTS = (300, 500)
CAMPUS_EVENING = (19.5, 23.5)  # Beijing hours
CAMPUS_MESSAGES = (3, 6)  # group messages per evening, each followed by arrivals
CAMPUS_MESSAGE_LATEST = 22.5
CAMPUS_ARRIVAL_MINUTES = 20.0
CAMPUS_FIRST_EVENING = 0.6  # students who hear of it on the first evening
CAMPUS_AGAIN = 0.3  # first-evening students who vote again the next evening (daily)
CAMPUS_NEW_FOLLOWERS = 0.7
CAMPUS_SINGLE_CHOICE = 0.5
CAMPUS_SUBNETS = (2, 4)
CAMPUS_ADDRESSES_PER_SUBNET = 2
CAMPUS_USER_AGENTS = 30  # young phones: the newest WeChat on the newest systems
CAMPUS_WECHAT_VERSIONS = ("8.0.47", "8.0.49")
CAMPUS_SYSTEMS = ("OS 17_", "OS 18_", "Android 13;", "Android 14;")

# Attacks: must be flagged.
SCRIPT_BALLOTS = (300, 450)
SCRIPT_GAP_SECONDS = (32.0, 45.0)  # stays under the per-address hourly budget (120)
SCRIPT_JITTER = 0.03
SCRIPT_DWELL = (2.1, 2.6)
SCRIPT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
PROXY_BALLOTS = (400, 650)
PROXY_FEW_SUBNETS = 4
PROXY_USER_AGENTS = 3
PROXY_MEAN_GAP_SECONDS = (8.0, 14.0)
PROXY_DWELL = (2.1, 3.5)
PROXY_FOLLOW_LEAD = (2.0, 6.0)  # seconds between following and the form being served
FARM_BALLOTS = (250, 400)
FARM_MINUTES = 40
FARM_PHONES = (8, 12)
FARM_PHONE_MODELS = 4
FARM_ADDRESSES = (4, 5)
FARM_DECOYS = (1, 2)
FARM_DWELL = (4.0, 15.0)
FARM_FOLLOW_LEAD = (60.0, 360.0)
DRIP_GAP_MINUTES = (12.0, 28.0)
DRIP_ADDRESSES = 4
DRIP_PHONES = 3
DRIP_DWELL = (3.0, 8.0)
DRIP_FOLLOW_LEAD = (120.0, 480.0)
# Churn: paid voters on their own phones (a few accounts each) on mobile data, over an
# afternoon; each account follows, votes minutes later and unfollows within hours.
CHURN_BALLOTS = (250, 400)
CHURN_HOURS = 3.0
CHURN_ACCOUNTS_PER_PHONE = (3, 5)
CHURN_DECOY_SHARE = 0.15  # ballots that add one popular case
CHURN_DWELL = (4.0, 20.0)
CHURN_FOLLOW_LEAD = (60.0, 480.0)  # seconds between following and the form being served
CHURN_UNFOLLOW_HOURS = (0.2, 8.0)  # after voting
CHURN_STAY = 0.1  # accounts that forget to unfollow
# Residential: a paid "真人投票" job on rotating residential and mobile addresses — a
# fresh account, a fresh device cookie and a new address per ballot, at ordinary hours
# over two or three days, but only two user agents; the target and one popular decoy.
RESIDENTIAL_SHARE = (0.08, 0.12)  # of --ballots
RESIDENTIAL_MIN_BALLOTS = 300
RESIDENTIAL_DAYS = (2, 3)
RESIDENTIAL_DECOYS = 2  # the most popular cases; one per ballot
RESIDENTIAL_USER_AGENTS = 2
RESIDENTIAL_HOME_SHARE = 0.75  # home lines; the rest mobile (IPv6 or carrier NAT)
RESIDENTIAL_DWELL = (2.5, 6.0)
RESIDENTIAL_FOLLOW_LEAD = (30.0, 90.0)  # seconds between following and the form served
# Small: a paid job that adds only 10–15 % to a popular case, one afternoon.
SMALL_RANKS = (3, 6)  # the target's popularity rank
SMALL_SHARE = (0.10, 0.15)  # of the target's other ballots
SMALL_HOURS = (2.0, 4.0)
SMALL_USER_AGENTS = 3
SMALL_DWELL = (3.0, 8.0)
SMALL_FOLLOW_LEAD = (30.0, 120.0)
# Stealth: people recruited long ago vote on most days on their own phones and home
# lines, at human hours and pace, for the target and a few popular cases. Expected to
# slip through.
STEALTH_PEOPLE = (55, 65)
STEALTH_DAILY = (0.75, 0.95)
STEALTH_FOLLOWED_DAYS = (30, 300)  # before the window
STEALTH_EXTRA_CASES = (1, 3)

# Address ranges (first octets) kept apart so kinds of network never share a /24.
NAT_OCTETS = (36, 39, 42, 106, 111, 112, 117, 120, 223)
HOME_OCTETS = (58, 59, 60, 61, 113, 114, 115, 116, 124, 125, 180, 182, 218, 219, 220, 221, 222)
DATACENTER_OCTETS = (47, 101, 118, 119, 121, 123, 139, 150)
CAMPUS_OCTETS = (202, 210, 211)
IPV6_CARRIERS = ("2409:8a", "240e:3", "2408:84")

ANDROID_MODELS = (
    "V2134A", "PGBM10", "M2012K11AC", "NOH-AN00", "ANA-AN00", "ELS-AN00", "22081212C",
    "2201123C", "V2049A", "PDEM10", "RMX3366", "JAD-AL50", "LIO-AN00", "TAS-AN00", "M2102K1C",
    "SM-G9910", "PFJM10", "V2172A", "PHB110", "23049RAD8C", "ALN-AL00", "CTR-AL00", "V2309A",
    "PJD110", "BRA-AL00", "FNE-AN00", "RMX3706", "2211133C", "PGEM10", "V2227A",
)  # fmt: skip
ANDROID_VERSIONS = ("10", "11", "12", "13", "14")
IOS_VERSIONS = (
    "15_6_1",
    "16_1_2",
    "16_5",
    "16_6_1",
    "17_0_3",
    "17_1_2",
    "17_4_1",
    "17_5_1",
    "18_0",
)
WECHAT_VERSIONS = (
    ("8.0.38", "0x18002629"), ("8.0.40", "0x1800282a"), ("8.0.42", "0x18002a2f"),
    ("8.0.44", "0x18002c2d"), ("8.0.47", "0x18002f2c"), ("8.0.49", "0x18003137"),
)  # fmt: skip
CHROME_VERSIONS = ("107.0.5304.141", "111.0.5563.116", "116.0.0.0", "122.0.6261.120")
NET_TYPES = ("WIFI", "4G", "5G")
OTHER_USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 12; zh-cn; M2012K11AC Build/SKQ1.211006.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.127 Mobile Safari/537.36 XiaoMi/MiuiBrowser/17.8.60",
    "Mozilla/5.0 (Linux; U; Android 12; zh-CN; PGBM10 Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/15.5.2.1201 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; ANA-AN00) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/99.0.4844.88 Mobile Safari/537.36 HuaweiBrowser/14.0.4.302",
    "Mozilla/5.0 (Linux; U; Android 11; zh-cn; PDEM10) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/109.0.5414.86 MQQBrowser/14.7 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 13; zh-CN; 22081212C) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 Quark/6.9.5.500 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.5359.95 Safari/537.36 QIHU 360SE",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36 WindowsWechat(0x63090819) XWEB/8447",
)  # fmt: skip
