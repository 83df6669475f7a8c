#!/usr/bin/env bash
# Every method the README does not show, called with grpcurl as printed here, in an order
# that builds what each call needs: a program, organisations and pairings, a work plan drafted
# with its tasks, issued, reported on and closed, a project taken to acceptance
# and one cancelled, ledger lines read and reversed, a talent exchange updated, deleted and
# undeleted, a supervision entry taken through its whole course, a monitoring section, a
# sample retracted and a station registered for a MONITOR token made here, tokens and the
# audit log.
#
# Usage: DUIKOU_ADDR=127.0.0.1:50051 DUIKOU_TOKEN=dk_… bash examples/every-method.sh
# (an ADMIN token on a server with the national regions loaded). Stops at the first call
# that fails. The smoke test (.ci/smoke) runs it against the release binary.
set -euo pipefail

ADDR=${DUIKOU_ADDR:-127.0.0.1:50051}
TOKEN=${DUIKOU_TOKEN:?set DUIKOU_TOKEN to an ADMIN token}

# call METHOD JSON: prints the reply; fails loudly when the call fails.
call() {
    local reply
    if ! reply=$(grpcurl -plaintext -H "authorization: Bearer $TOKEN" -d "$2" "$ADDR" "duikou.v1.$1" 2>&1); then
        printf 'examples/every-method.sh: %s failed:\n%s\n' "$1" "$reply" >&2
        exit 1
    fi
    printf '%s\n' "$reply"
}
# name_of: the "name" of the reply on standard input.
name_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])'; }
# etag_of NAME METHOD: the current etag of a resource.
etag_of() { call "$2" "{\"name\": \"$1\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("etag", ""))'; }

echo "== regions"
call RegionService/CreateRegion '{"region_id": "420381901", "region": {"display_name": "丹江口经济开发区",
    "level": "REGION_LEVEL_TOWNSHIP", "parent": "regions/420381"}}' >/dev/null

echo "== programs"
PROGRAM=$(call PairingService/CreateProgram '{"program": {"display_name": "示例协作计划",
    "basis_document": "国函〔2013〕42号", "period_start": "2021-01-01", "period_end": "2035-12-31"}}' | name_of)
call PairingService/GetProgram "{\"name\": \"$PROGRAM\"}" >/dev/null
call PairingService/ListPrograms '{"page_size": 10}' >/dev/null
call PairingService/UpdateProgram "{\"program\": {\"name\": \"$PROGRAM\", \"description\": \"京堰对口协作示例\"},
    \"update_mask\": {\"paths\": [\"description\"]}}" >/dev/null

echo "== organisations"
ORGANIZATION=$(call OrganizationService/CreateOrganization '{"organization": {"display_name": "示例区政府",
    "kind": "ORGANIZATION_KIND_GOVERNMENT_AGENCY", "region": "regions/110102"}}' | name_of)
BUREAU=$(call OrganizationService/CreateOrganization "{\"organization\": {\"display_name\": \"示例区水务局\",
    \"kind\": \"ORGANIZATION_KIND_GOVERNMENT_AGENCY\", \"region\": \"regions/110102\",
    \"parent\": \"$ORGANIZATION\"}}" | name_of)
call OrganizationService/GetOrganization "{\"name\": \"$BUREAU\"}" >/dev/null
call OrganizationService/UpdateOrganization "{\"organization\": {\"name\": \"$BUREAU\",
    \"display_name\": \"示例区水务局（更名）\"},
    \"update_mask\": {\"paths\": [\"display_name\"]}}" >/dev/null

echo "== pairings"
PAIRING=$(call PairingService/CreatePairing "{\"pairing\": {\"program\": \"$PROGRAM\",
    \"supporting_region\": \"regions/110102\", \"supported_region\": \"regions/420322\",
    \"fields\": [\"COOPERATION_FIELD_WATER_SOURCE\"], \"period_start\": \"2021-01-01\",
    \"period_end\": \"2025-12-31\"}}" | name_of)
call PairingService/GetPairing "{\"name\": \"$PAIRING\"}" >/dev/null
call PairingService/UpdatePairing "{\"pairing\": {\"name\": \"$PAIRING\", \"period_end\": \"2030-12-31\"},
    \"update_mask\": {\"paths\": [\"period_end\"]}}" >/dev/null
call PairingService/SuspendPairing "{\"name\": \"$PAIRING\"}" >/dev/null
call PairingService/ResumePairing "{\"name\": \"$PAIRING\"}" >/dev/null
SPARE=$(call PairingService/CreatePairing "{\"pairing\": {\"program\": \"$PROGRAM\",
    \"supporting_region\": \"regions/110105\", \"supported_region\": \"regions/420323\",
    \"period_start\": \"2021-01-01\", \"period_end\": \"2025-12-31\"}}" | name_of)
call PairingService/DeletePairing "{\"name\": \"$SPARE\"}" >/dev/null
call PairingService/UndeletePairing "{\"name\": \"$SPARE\"}" >/dev/null
call PairingService/EndPairing "{\"name\": \"$SPARE\"}" >/dev/null

echo "== work plans"
PLAN=$(call PlanService/CreateWorkPlan "{\"work_plan\": {\"scope\": \"$PAIRING\", \"year\": 2024,
    \"title\": \"2024年示例区对口协作工作计划及任务分工\",
    \"weights\": [{\"field\": \"PLAN_FIELD_ORGANIZATION_LEADERSHIP\", \"weight\": 20},
                {\"field\": \"PLAN_FIELD_FUNDS_USE\", \"weight\": 50},
                {\"field\": \"PLAN_FIELD_WATER_PROTECTION\", \"weight\": 25}]}}" | name_of)
call PlanService/UpdateWorkPlan "{\"work_plan\": {\"name\": \"$PLAN\",
    \"weights\": [{\"field\": \"PLAN_FIELD_ORGANIZATION_LEADERSHIP\", \"weight\": 20},
                {\"field\": \"PLAN_FIELD_FUNDS_USE\", \"weight\": 50},
                {\"field\": \"PLAN_FIELD_WATER_PROTECTION\", \"weight\": 30}]},
    \"update_mask\": {\"paths\": [\"weights\"]}}" >/dev/null
# One task per weighted field, each led by a registered organisation; one added and
# removed again while the plan is a draft.
task() { # FIELD INDICATOR TARGET DUE
    call PlanService/AddPlanTask "{\"parent\": \"$PLAN\", \"task\": {\"title\": \"示例任务\",
        \"field\": \"$1\", \"lead_organization\": \"$BUREAU\",
        \"supporting_organizations\": [\"$ORGANIZATION\"], \"indicator\": \"$2\",
        \"target\": \"$3\", \"due_date\": \"$4\"}}" | name_of
}
call PlanService/AddPlanTask "{\"parent\": \"$PLAN\", \"task\": {\"title\": \"召开联席会议\",
    \"field\": \"PLAN_FIELD_ORGANIZATION_LEADERSHIP\", \"lead_organization\": \"$ORGANIZATION\",
    \"due_date\": \"2024-03-31\"}}" >/dev/null
FUNDS_TASK=$(task PLAN_FIELD_FUNDS_USE INDICATOR_FUNDS_DISBURSED 5000000 2024-12-31)
WATER_TASK=$(task PLAN_FIELD_WATER_PROTECTION INDICATOR_MANUAL 12 2024-12-31)
SPARE_TASK=$(task PLAN_FIELD_OTHER INDICATOR_MANUAL 1 2024-06-30)
call PlanService/UpdatePlanTask "{\"task\": {\"name\": \"$FUNDS_TASK\", \"weight\": 2},
    \"update_mask\": {\"paths\": [\"weight\"]}}" >/dev/null
call PlanService/RemovePlanTask "{\"name\": \"$SPARE_TASK\"}" >/dev/null
call PlanService/IssueWorkPlan "{\"name\": \"$PLAN\"}" >/dev/null
call PlanService/ReportTaskProgress "{\"name\": \"$FUNDS_TASK\", \"progress_percent\": 40,
    \"note\": \"已拨付第一批资金\", \"evidence\": \"示财〔2024〕5号\"}" >/dev/null
call PlanService/ReportTaskProgress "{\"name\": \"$WATER_TASK\", \"progress_percent\": 100,
    \"actual\": \"12\", \"note\": \"12 个入库河流断面整治完成\", \"done\": true}" >/dev/null
call PlanService/GetPlanTask "{\"name\": \"$FUNDS_TASK\"}" >/dev/null
call PlanService/ListPlanTasks "{\"parent\": \"$PLAN\", \"filter\": \"overdue = true\"}" >/dev/null
call PlanService/GetWorkPlan "{\"name\": \"$PLAN\"}" >/dev/null
call PlanService/ListWorkPlans "{\"filter\": \"scope = \\\"$PAIRING\\\" AND year = 2024\"}" >/dev/null
call PlanService/CloseWorkPlan "{\"name\": \"$PLAN\"}" >/dev/null
call OrganizationService/GetOrganizationAccountability "{\"organization\": \"$BUREAU\", \"year\": 2024}" >/dev/null

echo "== projects"
project() {
    call ProjectService/CreateProject "{\"project\": {\"pairing\": \"$PAIRING\", \"display_name\": \"$1\",
        \"field\": \"COOPERATION_FIELD_WATER_SOURCE\", \"location\": \"regions/420322\",
        \"implementing_org\": \"郧西县水利局\", \"budget\": {\"currency_code\": \"CNY\", \"units\": \"1000000\"},
        \"planned_start\": \"2022-03-01\", \"planned_end\": \"2023-12-31\"}}" | name_of
}
PROJECT=$(project "天河水质提升工程")
call ProjectService/GetProject "{\"name\": \"$PROJECT\"}" >/dev/null
call ProjectService/ListProjects "{\"filter\": \"pairing = \\\"$PAIRING\\\"\"}" >/dev/null
call ProjectService/UpdateProject "{\"project\": {\"name\": \"$PROJECT\", \"progress_percent\": 10},
    \"update_mask\": {\"paths\": [\"progress_percent\"]}}" >/dev/null
call ProjectService/ApproveProject "{\"name\": \"$PROJECT\"}" >/dev/null
call ProjectService/StartProject "{\"name\": \"$PROJECT\"}" >/dev/null

echo "== funds"
call FundService/RecordFundTransaction "{\"fund_transaction\": {\"kind\": \"FUND_TRANSACTION_KIND_COMMITMENT\",
    \"pairing\": \"$PAIRING\", \"fiscal_year\": 2022, \"amount\": {\"currency_code\": \"CNY\", \"units\": \"500000\"},
    \"source\": \"FUND_SOURCE_SUPPORTING_GOVERNMENT\", \"instrument\": \"FUND_INSTRUMENT_GRANT\",
    \"value_date\": \"2022-02-15\"}}" >/dev/null
LINE=$(call FundService/RecordFundTransaction "{\"fund_transaction\": {\"kind\": \"FUND_TRANSACTION_KIND_ALLOCATION\",
    \"project\": \"$PROJECT\", \"fiscal_year\": 2022, \"amount\": {\"currency_code\": \"CNY\", \"units\": \"200000\"},
    \"source\": \"FUND_SOURCE_SUPPORTING_GOVERNMENT\", \"instrument\": \"FUND_INSTRUMENT_GRANT\",
    \"value_date\": \"2022-03-10\"}}" | name_of)
call FundService/GetFundTransaction "{\"name\": \"$LINE\"}" >/dev/null
call FundService/ListFundTransactions "{\"filter\": \"pairing = \\\"$PAIRING\\\"\"}" >/dev/null
call FundService/ReverseFundTransaction "{\"name\": \"$LINE\", \"reason\": \"录入错误\"}" >/dev/null

echo "== the project's course"
call ProjectService/CompleteProject "{\"name\": \"$PROJECT\"}" >/dev/null
call ProjectService/AcceptProject "{\"name\": \"$PROJECT\"}" >/dev/null
CANCELLED=$(project "暂缓实施的项目")
call ProjectService/CancelProject "{\"name\": \"$CANCELLED\", \"reason\": \"选址调整\"}" >/dev/null

echo "== talent exchanges"
EXCHANGE=$(call TalentExchangeService/CreateTalentExchange "{\"talent_exchange\": {\"pairing\": \"$PAIRING\",
    \"kind\": \"TALENT_EXCHANGE_KIND_CADRE_SECONDMENT\", \"direction\": \"TALENT_EXCHANGE_DIRECTION_TO_SUPPORTED\",
    \"field\": \"COOPERATION_FIELD_TALENT\", \"headcount\": 1, \"start_date\": \"2024-03-01\",
    \"end_date\": \"2025-02-28\", \"host_organization\": \"郧西县发展和改革局\", \"title\": \"西城区赴郧西县挂职干部\",
    \"participants\": [{\"display_name\": \"李明\", \"organization\": \"北京市西城区发展和改革委员会\", \"position\": \"科长\"}]}}" | name_of)
call TalentExchangeService/GetTalentExchange "{\"name\": \"$EXCHANGE\"}" >/dev/null
call TalentExchangeService/ListTalentExchanges "{\"filter\": \"pairing = \\\"$PAIRING\\\"\"}" >/dev/null
call TalentExchangeService/UpdateTalentExchange "{\"talent_exchange\": {\"name\": \"$EXCHANGE\",
    \"title\": \"2024年西城区赴郧西县挂职干部\"}, \"update_mask\": {\"paths\": [\"title\"]}}" >/dev/null
call TalentExchangeService/DeleteTalentExchange "{\"name\": \"$EXCHANGE\"}" >/dev/null
call TalentExchangeService/UndeleteTalentExchange "{\"name\": \"$EXCHANGE\"}" >/dev/null

echo "== supervision: one entry through its whole course, one rejected"
entry() {
    call SupervisionService/SubmitSupervisionEntry "{\"supervision_entry\": {\"party\": \"SUPERVISION_PARTY_MEDIA\",
        \"region\": \"regions/420322\", \"category\": \"SUPERVISION_CATEGORY_POLLUTION\",
        \"severity\": \"SUPERVISION_SEVERITY_MEDIUM\", \"title\": \"$1\", \"description\": \"记者现场发现\"}}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["supervisionEntry"]["name"])'
}
ENTRY=$(entry "天河支流漂浮垃圾")
call SupervisionService/GetSupervisionEntry "{\"name\": \"$ENTRY\"}" >/dev/null
call SupervisionService/AcceptSupervisionEntry "{\"name\": \"$ENTRY\", \"responsible_unit\": \"郧西县生态环境分局\",
    \"due_date\": \"2030-06-30\"}" >/dev/null
call SupervisionService/StartRectification "{\"name\": \"$ENTRY\", \"plan\": \"每日清理并设拦污浮排\"}" >/dev/null
call SupervisionService/ResolveSupervisionEntry "{\"name\": \"$ENTRY\", \"resolution\": \"已清理，浮排已安装\", \"evidence\": [{\"uri\": \"https://example.org/photos/tianhe.jpg\",
    \"sha256\": \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\", \"description\": \"整改后照片\"}]}" >/dev/null
call SupervisionService/ReopenSupervisionEntry "{\"name\": \"$ENTRY\", \"reason\": \"复查又见垃圾\"}" >/dev/null
call SupervisionService/ResolveSupervisionEntry "{\"name\": \"$ENTRY\", \"resolution\": \"加密巡查后清理完毕\", \"evidence\": [{\"uri\": \"https://example.org/photos/tianhe.jpg\",
    \"sha256\": \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\", \"description\": \"整改后照片\"}]}" >/dev/null
call SupervisionService/CloseSupervisionEntry "{\"name\": \"$ENTRY\", \"review_note\": \"复核通过\"}" >/dev/null
call SupervisionService/AddSupervisionComment "{\"parent\": \"$ENTRY\", \"text\": \"归档\", \"public\": true}" >/dev/null
call SupervisionService/ListSupervisionEvents "{\"parent\": \"$ENTRY\"}" >/dev/null
REJECTED=$(entry "重复的报告")
call SupervisionService/RejectSupervisionEntry "{\"name\": \"$REJECTED\", \"reason\": \"与前一条重复\"}" >/dev/null

echo "== water quality"
SECTION=$(call WaterQualityService/CreateMonitoringSection '{"monitoring_section": {"code": "HB-EXAMPLE-01",
    "display_name": "天河口", "water_body": "天河", "water_body_type": "WATER_BODY_TYPE_RIVER",
    "region": "regions/420322", "responsible_unit": "郧西县人民政府", "target_class": "WATER_CLASS_II",
    "control_level": "CONTROL_LEVEL_PROVINCIAL"}}' | name_of)
call WaterQualityService/GetMonitoringSection "{\"name\": \"$SECTION\"}" >/dev/null
call WaterQualityService/ListMonitoringSections '{"filter": "region = \"regions/420322\" AND state = ACTIVE"}' >/dev/null
call WaterQualityService/UpdateMonitoringSection "{\"monitoring_section\": {\"name\": \"$SECTION\",
    \"responsible_unit\": \"郧西县生态环境分局\"}, \"update_mask\": {\"paths\": [\"responsible_unit\"]}}" >/dev/null
SAMPLE=$(call WaterQualityService/RecordWaterSample "{\"sample\": {\"section\": \"$SECTION\",
    \"sample_time\": \"2026-11-30T10:00:00+08:00\", \"source\": \"WATER_SAMPLE_SOURCE_AUTOMATIC\",
    \"values\": [{\"parameter\": \"WATER_PARAMETER_AMMONIA_NITROGEN\", \"value\": \"0.3\"}]}}" | name_of)
call WaterQualityService/GetWaterSample "{\"name\": \"$SAMPLE\"}" >/dev/null
call WaterQualityService/RetractWaterSample "{\"name\": \"$SAMPLE\", \"reason\": \"站点校准期间的数据\"}" >/dev/null
MONITOR=$(call AccessService/CreateAccessToken '{"access_token": {"role": "ROLE_MONITOR",
    "label": "郧西县环境监测站", "scopes": ["regions/420322"]}}' | name_of)
STATION=$(call WaterQualityService/CreateMonitoringStation "{\"monitoring_station\": {\"mn\": \"420322TIANHEKOU000000001\",
    \"display_name\": \"天河口水质自动站\", \"section\": \"$SECTION\", \"monitor\": \"$MONITOR\"}}" | name_of)
call WaterQualityService/GetMonitoringStation "{\"name\": \"$STATION\"}" >/dev/null
call WaterQualityService/ListMonitoringStations "{\"filter\": \"section = \\\"$SECTION\\\"\"}" >/dev/null
call WaterQualityService/ResetMonitoringStationPassword "{\"name\": \"$STATION\"}" >/dev/null
call WaterQualityService/RetireMonitoringSection "{\"name\": \"$SECTION\"}" >/dev/null

echo "== access tokens"
SECOND=$(call AccessService/CreateAccessToken '{"access_token": {"role": "ROLE_AUDITOR", "label": "审计局示例"}}' | name_of)
call AccessService/ListAccessTokens '{}' >/dev/null
call AccessService/RevokeAccessToken "{\"name\": \"$SECOND\"}" >/dev/null

echo "== the audit log"
call AuditService/ListAuditEvents '{"page_size": 5}' >/dev/null
call AuditService/GetCheckpoint '{}' >/dev/null
call AuditService/GetConsistencyProof '{"first_size": 1, "second_size": 2}' >/dev/null

echo "examples/every-method.sh: every call succeeded"
