#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ from the shapes the
fakes (tests/fakes/) and the tests send and answer.  Run from the repository
root after changing a shape; crash inputs found by fuzzing are added by hand
as fuzz/corpus/<target>/regress-<what> and are not touched here."""
import json, os

def put(target, name, data):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- envelope: Socket Mode frames ----
def slash(text, user="U0REPORT1", channel="C0PUBLIC1"):
    return {"envelope_id": "e-slash", "type": "slash_commands", "accepts_response_payload": True,
            "payload": {"token": "verif", "team_id": "T0FAKE001", "team_domain": "fake",
                        "channel_id": channel, "channel_name": "general", "user_id": user,
                        "user_name": "reporter", "command": "/sirt", "text": text,
                        "api_app_id": "A0FAKE001", "response_url": "http://127.0.0.1:1/commands/1",
                        "trigger_id": "1337.42.abc"}}

def event(ev, eid="Ev0001"):
    return {"envelope_id": "e-ev", "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": 0, "retry_reason": "",
            "payload": {"token": "verif", "team_id": "T0FAKE001", "api_app_id": "A0FAKE001",
                        "type": "event_callback", "event_id": eid, "event_time": 1700000100,
                        "event": ev}}

def interactive(p):
    return {"envelope_id": "e-int", "type": "interactive", "accepts_response_payload": True, "payload": p}

def report_view(title, what, sev="1", prio="1", comp="gitaly", repro="GET /api/v4/user", link=None):
    def text(v):
        return {"value": {"type": "plain_text_input", "value": v}}
    def sel(v):
        return {"value": {"type": "static_select",
                          "selected_option": {"text": {"type": "plain_text", "text": v}, "value": v}}}
    return {"type": "view_submission", "team": {"id": "T0FAKE001", "domain": "fake"},
            "user": {"id": "U0REPORT1", "username": "reporter", "team_id": "T0FAKE001"},
            "api_app_id": "A0FAKE001", "trigger_id": "1337.42.view",
            "view": {"id": "V0001", "type": "modal", "callback_id": "sirt_report",
                     "private_metadata": "{\"origin\":\"C0PUBLIC1\"}",
                     "state": {"values": {"title": text(title), "what": text(what), "severity": sel(sev),
                                          "priority": sel(prio), "component": sel(comp),
                                          "repro": text(repro), "link": text(link)}}},
            "response_urls": []}

def action(action_id, value, user="U0SIRT001", channel="C0INCID01"):
    return {"type": "block_actions", "user": {"id": user, "username": "sirt1"},
            "trigger_id": "1337.42.act", "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": "1700000200.000100"},
            "actions": [{"action_id": action_id, "block_id": "b1", "type": "button",
                         "value": value, "action_ts": "1700000201.000000"}]}

env = {
    "slash_help": slash("help"),
    "slash_report": slash("report Leaked token in CI logs"),
    "slash_status": slash("status SIRT-1", user="U0SIRT001"),
    "slash_page": slash("page SIRT-1", user="U0SIRT001", channel="C0INCID01"),
    "slash_decision": slash("decision SIRT-1", user="U0SIRT001"),
    "slash_handoff": slash("handoff SIRT-1 <@U0APPSEC2|bob>", user="U0APPSEC1"),
    "slash_resolve": slash("resolve SIRT-1", user="U0SIRT001"),
    "slash_timeline": slash("timeline SIRT-1", user="U0SIRT001"),
    "slash_review": slash("review", user="U0SIRT001"),
    "slash_oncall": slash("oncall"),
    "slash_assign": slash("assign SIRT-1 <@U0APPSEC1>", user="U0SIRT001"),
    "mention_help": event({"type": "app_mention", "user": "U0REPORT1", "text": "<@U0BOT0001> help",
                           "channel": "C0PUBLIC1", "ts": "1700000100.000200", "event_ts": "1700000100.000200"}),
    "mention_status_thread": event({"type": "app_mention", "user": "U0SIRT001",
                                    "text": "<@U0BOT0001> status SIRT-1", "channel": "C0PUBLIC1",
                                    "ts": "1700000100.000300", "thread_ts": "1700000000.000100"}, "Ev0002"),
    "dm_page": event({"type": "message", "channel_type": "im", "user": "U0SIRT001", "text": "page",
                      "channel": "D0DM00001", "ts": "1700000100.000400"}, "Ev0003"),
    "dm_edited": event({"type": "message", "subtype": "message_changed", "channel_type": "im",
                        "channel": "D0DM00001", "ts": "1700000100.000500"}, "Ev0004"),
    "report_submit": interactive(report_view("Token leak", "A token glpat-abcdefghij0123456789 was pasted in #general")),
    "report_submit_s3": interactive(report_view("XSS in wiki", "Stored XSS", sev="3", prio="2",
                                                link="https://gitlab.com/x/y/-/issues/1")),
    "report_submit_bad": interactive(report_view("   ", "", sev="9", comp="nginx", link="javascript:alert(1)")),
    "button_page": interactive(action("sirt_page", "1")),
    "button_resolve": interactive(action("sirt_resolve", "1")),
    "button_decision": interactive(action("sirt_decision", "1")),
    "button_handoff_accept": interactive(action("handoff_accept", "{\"incident\":1,\"to\":\"U0APPSEC2\"}", user="U0APPSEC2")),
    "button_handoff_keep": interactive(action("handoff_keep", "1", user="U0APPSEC1")),
    "button_report_open": interactive(action("sirt_report_open", "", user="U0REPORT1")),
    "decision_submit": interactive({"type": "view_submission", "user": {"id": "U0SIRT001"},
                                    "view": {"id": "V0002", "callback_id": "sirt_decision",
                                             "private_metadata": "{\"incident\":1}",
                                             "state": {"values": {"solution": {"value": {"type": "plain_text_input", "value": "Rotate the token"}},
                                                                  "options": {"value": {"type": "plain_text_input", "value": "Revoke, rotate"}}}}}}),
    "hello": {"type": "hello", "num_connections": 1, "debug_info": {"host": "fake", "build_number": 1}},
    "disconnect": {"type": "disconnect", "reason": "refresh_requested"},
    "unknown_type": {"envelope_id": "e-x", "type": "brand_new_type", "payload": {}},
}
for k, v in env.items():
    put("envelope", k, v)

# ---- config: team config files ----
full = {
    "timezone": "UTC", "sirt_channel": "C0SIRT0001", "sirt_team": ["U0SIRT001", "U0SIRT002"],
    "severity1_responders": ["U0SIRT001", "U0SIRT002"], "directors": ["U0DIRSEC1", "U0DIRINF1"],
    "appsec": [{"user": "U0APPSEC1", "tz": "America/Los_Angeles", "hours": "09:00-17:00", "gitlab": "alice"},
               {"user": "U0APPSEC2", "tz": "Europe/Amsterdam", "hours": "09:00-17:00"}],
    "secops_oncall": {"pagerduty_schedule": "PSCHED1", "fallback_user": "U0SECOPS1"},
    "components": [{"name": "gitaly", "em": "U0EM00001", "pm": "U0PM00001", "channel": "C0GITALY1",
                    "gitlab_em": "em-gitaly", "gitlab_pm": "pm-gitaly"}],
    "handoff": {"lead_minutes": 30, "accept_minutes": 30}, "gitlab": {"namespace_id": 42},
    "gitlab_users": {"U0SIRT001": "sirt-carol", "U0SECOPS1": "sid"},
    "decisions": {"validate_after_minutes": 240}, "paging": {"ack_minutes": 15},
    "outbox": {"give_up_hours": 168}, "mask": {"extra_patterns": ["ACME-[A-Z0-9]{24}"]},
    "retention": {"days": 730},
}
put("config", "full_design", json.dumps(full, indent=2))
put("config", "minimal", "{}")
put("config", "harness_default", {"timezone": "UTC", "sirt_channel": "C0SIRT0001", "sirt_team": ["U0SIRT001"],
                                   "components": [{"name": "gitaly", "em": "U0EM00001", "pm": "U0PM00001"}]})
put("config", "night_shift", {"appsec": [{"user": "U0APPSEC3", "tz": "Asia/Tokyo", "hours": "22:00-06:00"},
                                          {"user": "U0APPSEC4"}], "timezone": "Australia/Sydney"})
put("config", "bad_trailing", "{\"timezone\": \"UTC\",")
put("config", "bad_zone", {"appsec": [{"user": "U0APPSEC1", "tz": "Mars/Olympus_Mons"}]})
put("config", "bad_typo", {"sirt_chanel": "C0SIRT0001"})
put("config", "bad_dup", {"components": [{"name": "a"}, {"name": "a"}]})
put("config", "bad_lead", {"handoff": {"lead_minutes": 1e308}, "gitlab": {"namespace_id": -1}})

# ---- mask: report-like text with secrets ----
mask = {
    "gitlab_pat": "CI printed glpat-abcdefghij0123456789 in the job log",
    "slack_tokens": "bot xoxb-1234-5678-abcdefABCDEF app xapp-1-A0FAKE001-123-abc",
    "aws": "AKIAIOSFODNN7EXAMPLE and aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
    "headers": "GET /api/v4/user HTTP/1.1\r\nAuthorization: Bearer abc.def.ghi\r\nPRIVATE-TOKEN: glpat-zzzzzzzzzzzzzzzzzzzz\r\nCookie: _gitlab_session=0123456789abcdef\r\n",
    "pairs": "password=hunter2 secret: s3cr3t token=\"abcdef\" api_key=XYZ",
    "url_userinfo": "git clone https://deploy:Sup3rS3cret@gitlab.example.com/g/p.git",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "github": "ghp_0123456789abcdefghijABCDEFGHIJ012345 github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "plain": "Stored XSS in the wiki: <script>alert(1)</script> reproduced on 16.4",
    "utf8": "Überweisung — token glpat-abcdefghij0123456789 \xe2\x80\x94 fin",
}
for k, v in mask.items():
    put("mask", k, v)

# ---- workhours: "<zone> <hours> <epoch ms>" ----
wh = {
    "la_day": "America/Los_Angeles 09:00-17:00 1700000000000",
    "ams_night": "Europe/Amsterdam 22:00-06:00 1700000000000",
    "utc_weekend": "UTC 09:00-17:00 1700870400000",
    "dst_spring": "Europe/Amsterdam 01:30-03:30 1711846800000",
    "dst_fall": "America/New_York 00:30-02:30 1730613600000",
    "tokyo": "Asia/Tokyo 08:00-16:30 0",
    "kathmandu": "Asia/Kathmandu 09:15-17:45 -86400000",
    "far_future": "Pacific/Apia 23:59-00:00 253402300799000",
    "bad_hours": "UTC 9:00-17:00 1",
}
for k, v in wh.items():
    put("workhours", k, v)

# ---- Slack answers ----
slack = {
    "ok_channel": "200\n" + json.dumps({"ok": True, "channel": {"id": "C0INCID01", "name": "sirt-1-token-leak", "is_private": True}}),
    "name_taken": "200\n" + json.dumps({"ok": False, "error": "name_taken"}),
    "list_own": "200\n" + json.dumps({"ok": True, "channels": [{"id": "C0INCID01", "name": "sirt-1-token-leak", "creator": "U0BOT0001", "is_archived": False}], "response_metadata": {"next_cursor": "dGVhbTpD"}}),
    "invalid_blocks": "200\n" + json.dumps({"ok": False, "error": "invalid_blocks", "errors": ["must be less than 3001 characters [json-pointer:/blocks/1/text/text]"], "response_metadata": {"messages": ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/1/text/text]"]}}),
    "users_info": "200\n" + json.dumps({"ok": True, "user": {"id": "U0APPSEC1", "name": "alice", "tz": "America/Los_Angeles", "tz_offset": -28800}}),
    "post": "200\n" + json.dumps({"ok": True, "channel": "C0INCID01", "ts": "1700000200.000100", "message": {"text": "hi"}}),
    "views_open": "200\n" + json.dumps({"ok": True, "view": {"id": "V0001", "callback_id": "sirt_report"}}),
    "ratelimited": "429 30\n" + json.dumps({"ok": False, "error": "ratelimited"}),
    "server_error": "503\n<html>Service Unavailable</html>",
    "response_url_ok": "200\nok",
    "no_ok_field": "200\n{\"channel\":\"C1\"}",
    "missing_scope": "200\n" + json.dumps({"ok": False, "error": "missing_scope", "needed": "groups:write", "provided": "chat:write"}),
}
for k, v in slack.items():
    put("slack_response", k, v)

# ---- PagerDuty answers ----
pd = {
    "enqueued": "202\n" + json.dumps({"status": "success", "message": "Event processed", "dedup_key": "SIRT-1"}),
    "oncalls": "200\n" + json.dumps({"oncalls": [{"escalation_level": 1, "schedule": {"id": "PSCHED1"},
                                                 "user": {"id": "PSECOPS01", "type": "user", "summary": "secops", "email": "secops@example.com"},
                                                 "start": "2023-11-14T00:00:00Z", "end": None}],
                                     "limit": 25, "offset": 0, "more": False}),
    "oncalls_empty": "200\n" + json.dumps({"oncalls": [], "limit": 25, "offset": 0, "more": False}),
    "bad_request": "400\n" + json.dumps({"status": "invalid event", "message": "Event object is invalid", "errors": ["'routing_key' is invalid"]}),
    "rest_error": "401\n" + json.dumps({"error": {"message": "Unauthorized", "code": 2006}}),
    "throttled": "429 2\n" + json.dumps({"status": "throttle event", "message": "Requests for this service are arriving too quickly."}),
    "outage": "502\n",
}
for k, v in pd.items():
    put("pagerduty_response", k, v)

# ---- GitLab answers ----
gl = {
    "project": "201\n" + json.dumps({"id": 7, "name": "sirt-1-token-leak", "path": "sirt-1-token-leak",
                                     "path_with_namespace": "security/incidents/sirt-1-token-leak",
                                     "web_url": "http://127.0.0.1/security/incidents/sirt-1-token-leak", "visibility": "private"}),
    "name_taken": "400\n" + json.dumps({"message": {"name": ["has already been taken"], "path": ["has already been taken"]}}),
    "issue": "201\n" + json.dumps({"id": 1001, "iid": 1, "project_id": 7, "title": "SIRT-1: Token leak", "confidential": True,
                                   "description": "Reported by reporter\n\n<!-- sirt-job-17 -->",
                                   "web_url": "http://127.0.0.1/security/incidents/sirt-1-token-leak/-/issues/1"}),
    "issues_list": "200\n" + json.dumps([{"iid": 2, "description": "other"}, {"iid": 1, "description": "x <!-- sirt-job-17 -->", "web_url": "http://h/i/1"}]),
    "notes_list": "200\n" + json.dumps([{"id": 5, "body": "repro <!-- sirt-job-17 -->", "internal": True}]),
    "users": "200\n" + json.dumps([{"id": 201, "username": "alice", "name": "Alice", "state": "active"}]),
    "member_conflict": "409\n" + json.dumps({"message": "Member already exists"}),
    "forbidden": "403\n" + json.dumps({"message": "403 Forbidden"}),
    "unprocessable": "422\n" + json.dumps({"error": "access_level does not have a valid value", "message": ["bad"]}),
    "not_found": "404\n" + json.dumps({"message": "404 Project Not Found"}),
    "html_5xx": "500\n<!DOCTYPE html><html><body>We're sorry, but something went wrong.</body></html>",
}
for k, v in gl.items():
    put("gitlab_response", k, v)
