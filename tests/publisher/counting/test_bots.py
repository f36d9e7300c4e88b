"""Bots are not readers: crawlerdetect's verdict, on both sides (crawlers not counted, people's browsers counted),
remembered per user agent so that the page's hot path does not ask it again."""

import pytest
from crawlerdetect import CrawlerDetect
from django.db.models import Sum

from publisher import counting
from publisher.counting import bots
from publisher.counting.bots import is_bot
from publisher.models import DailyPostViews
from tests.factories import PostFactory

# Examples from crawlerdetect's own test fixtures (tests/fixtures/user_agent/crawlers.txt in its repository; the
# package does not install them). Many of them the old hand-written regex let through as readers.
CRAWLERDETECT_EXAMPLES = [
    "TinEye-bot/0.51 (see http://www.tineye.com/crawler.html)",
    "R6_FeedFetcher(www.radian6.com/crawler)",
    "yacybot (/global; amd64 Linux 3.16-0.bpo.2-amd64; java 1.7.0_65; Europe/en) http://yacy.net/bot.html",
    "adidxbot/2.0 (+http://search.msn.com/msnbot.htm)",
    "Mozilla/5.0 (compatible; Mail.RU_Bot/2.0; +http://go.mail.ru/help/robots)",
    "Mozilla/5.0 (Linux; Android 5.0; Nexus 5 Build/LRX21O) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/46.0.2490.76 Mobile Safari/537.36 PTST/281",
    "TurnitinBot (https://turnitin.com/robot/crawlerinfo.html)",
    "Scrapy/1.0.5 (+http://scrapy.org)",
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.0) Match by Siteimprove.com",
    "Mozilla/5.0 (compatible; SeznamBot/3.2; +http://napoveda.seznam.cz/en/seznambot-intro/)",
    "Mozilla/5.0 (compatible; heritrix/1.14.2 +http://rjpower.org)",
    "msnbot-UDiscovery/2.0b (+http://search.msn.com/msnbot.htm)",
    "HubSpot Links Crawler 2.0 http://www.hubspot.com/",
    "Mozilla/5.0 (compatible; Exabot/3.0 (BiggerBetter); +http://www.exabot.com/go/robot)",
    "Mozilla/5.0 (compatible; Qwantify/2.0n; +https://www.qwant.com/)",
    "Baiduspider+(+http://www.baidu.com/search/spider.htm)",
    "Mozilla/5.0 (Windows; U; Windows NT 6.0; en-US; rv:1.9.2.28) Gecko/20120306 Firefox/99.0 YottaaMonitor",
    "Sogou News Spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.4 (KHTML, like Gecko; Google Page Speed Insights) "
    "Chrome/22.0.1229 Safari/537.4",
    "Yeti/1.1 (NHN Corp.; http://help.naver.com/robots/)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.5; http://www.majestic12.co.uk/bot.php?+)",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0); 360Spider",
    "Slack-ImgProxy 0.66 (+https://api.slack.com/robots)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 (compatible; YandexImages/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0) "
    "commoncrawl.org/research//Nutch-1.7-SNAPSHOT",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/600.2.5 (KHTML, like Gecko) Version/8.0.2 "
    "Safari/600.2.5 (Applebot/0.1)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; http://nmap.org/book/nse.html)",
    "Mozilla/5.0 (Linux; Android 4.4.3; HTC One Build/KTU84L) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/40.0.2125.111 Mobile Safari/537.36 DareBoost",
    "Mozilla/5.0 (X11; Linux x86_64; rv:45.0; GTmetrix https://gtmetrix.com/) Gecko/20100101 Firefox/45.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:18.0) Gecko/20100101 Firefox/18.0 AppEngine-Google; "
    "(+http://code.google.com/appengine; appid: s~aeshortener)",
    "Mozilla/5.0 (compatible; Google-Structured-Data-Testing-Tool "
    "+http://developers.google.com/structured-data/testing-tool/)",
]

# What visits a blog today: search engines, AI crawlers, SEO tools, link previews, monitors, headless browsers and
# HTTP libraries, as each announces itself.
CURRENT_CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.7390.122 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) "
    "Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 "
    "Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; OAI-SearchBot/1.0; +https://openai.com/searchbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
    "+https://perplexity.ai/perplexitybot)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
    "(compatible; Bytespider; spider-feedback@bytedance.com)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)",
    "Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "Mozilla/5.0 (compatible; Amazonbot/0.1; +https://developer.amazon.com/support/amazonbot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "TelegramBot (like TwitterBot)",
    "WhatsApp/2.23.20.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/136.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "python-httpx/0.28.1",
    "Python-urllib/3.12",
    "Python/3.12 aiohttp/3.12.15",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "Java/21.0.2",
    "axios/1.7.9",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Scrapy/2.13.3 (+https://scrapy.org)",
    "PostmanRuntime/7.43.0",
]

CRAWLERS = CRAWLERDETECT_EXAMPLES + CURRENT_CRAWLERS

# People's browsers as they announce themselves in 2025-26: Chrome (user-agent reduced), Firefox, Safari, Edge,
# Opera, Samsung Internet, Yandex and Vivaldi on Windows, macOS, Linux, ChromeOS, Android, iPhone and iPad; and
# apps' in-app browsers.
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/142.0.7444.77 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (Android 15; Mobile; rv:145.0) Gecko/145.0 Firefox/145.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/145.0 "
    "Mobile/15E148 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
    "Safari/537.36 Edg/142.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
    "Safari/537.36 Edg/142.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile "
    "Safari/537.36 EdgA/142.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 "
    "Safari/537.36 OPR/124.0.0.0",
    "Mozilla/5.0 (Linux; Android 15; SAMSUNG SM-S931B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/28.0 "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-A556B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 "
    "Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 "
    "YaBrowser/24.10.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36 Vivaldi/7.0.3495.11",
    # Links opened in apps: their web views, Facebook's and Instagram's in-app browsers
    "Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/127.0.6533.103 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "[FBAN/FBIOS;FBAV/520.0.0.38.101;FBBV/744813050;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/18.6;FBSS/3;FBID/phone;"
    "FBLC/en_US;FBOP/5]",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240905.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/128.0.6613.127 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/480.0.0.43.109;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "Instagram 400.0.0.29.91 (iPhone15,2; iOS 18_6; en_US; en; scale=3.00; 1179x2556; 812345678)",
]


@pytest.fixture
def fresh_verdicts():
    """No verdict remembered from earlier tests."""
    bots.remembered_verdict.cache_clear()
    yield
    bots.remembered_verdict.cache_clear()


def detector_asks(monkeypatch):
    """The user agents crawlerdetect is asked about from now on, in order."""
    asked = []
    is_crawler = CrawlerDetect.is_crawler

    def recording_is_crawler(detector, user_agent=None):
        asked.append(user_agent)
        return is_crawler(detector, user_agent)

    monkeypatch.setattr(CrawlerDetect, "is_crawler", recording_is_crawler)
    return asked


@pytest.mark.parametrize("user_agent", CRAWLERS)
def test_crawlers_link_previewers_monitors_and_http_tools_are_bots(user_agent):
    assert is_bot(user_agent)


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_peoples_browsers_are_not_bots(user_agent):
    assert not is_bot(user_agent)


@pytest.mark.parametrize("user_agent", ["", " ", "\t", None])
def test_a_request_without_a_user_agent_is_a_bot(user_agent):
    assert is_bot(user_agent)


@pytest.mark.django_db
def test_through_the_post_page_bots_are_not_counted_and_people_are(client):
    read_by_bots, read_by_people = PostFactory(), PostFactory()
    for user_agent in CRAWLERS:
        assert client.get(f"/{read_by_bots.slug}/", HTTP_USER_AGENT=user_agent).status_code == 200
    for user_agent in BROWSERS:
        assert client.get(f"/{read_by_people.slug}/", HTTP_USER_AGENT=user_agent).status_code == 200
    counting.flush_views()
    for post, views in [(read_by_bots, 0), (read_by_people, len(BROWSERS))]:
        post.refresh_from_db()
        daily = DailyPostViews.objects.filter(post=post).aggregate(total=Sum("views"))["total"] or 0
        assert (post.view_count, daily) == (views, views)


def test_a_verdict_is_remembered_so_the_detector_is_asked_once_per_user_agent(fresh_verdicts, monkeypatch):
    asked = detector_asks(monkeypatch)
    googlebot, firefox = CURRENT_CRAWLERS[0], BROWSERS[6]
    assert [is_bot(googlebot), is_bot(firefox)] == [True, False]
    hits = bots.remembered_verdict.cache_info().hits
    for _ in range(100):
        assert [is_bot(googlebot), is_bot(firefox)] == [True, False]
    assert asked == [googlebot, firefox]
    assert bots.remembered_verdict.cache_info().hits == hits + 200


def test_the_remembered_verdicts_are_bounded(fresh_verdicts):
    for n in range(bots.VERDICTS_KEPT + 100):
        is_bot(f"{BROWSERS[0]} build/{n}")
    info = bots.remembered_verdict.cache_info()
    assert info.maxsize == bots.VERDICTS_KEPT and info.currsize == bots.VERDICTS_KEPT


def test_only_the_start_of_a_very_long_user_agent_is_read_and_remembered(fresh_verdicts, monkeypatch):
    asked = detector_asks(monkeypatch)
    padding = ";" * 8000  # gunicorn accepts a header of up to 8,190 bytes
    assert is_bot(CURRENT_CRAWLERS[0] + padding)
    assert not is_bot(BROWSERS[0] + padding)
    assert [len(user_agent) for user_agent in asked] == [bots.LONGEST_USER_AGENT] * 2


def test_the_detector_is_made_once_not_per_call(fresh_verdicts, monkeypatch):
    def no_new_detector(*args, **kwargs):
        raise AssertionError("a CrawlerDetect was made on a page view")

    monkeypatch.setattr(CrawlerDetect, "__init__", no_new_detector)
    assert [is_bot(user_agent) for user_agent in (CURRENT_CRAWLERS[0], BROWSERS[0])] == [True, False]
