#!/usr/bin/env bash
# What each demo worker runs for a task: pretend to work for a moment. A task whose payload says
# fail_first fails on its first attempt, to show a retry.
set -u
echo "working on ${HARNESS_TASK_ID}: ${HARNESS_TASK_DESCRIPTION}"
marker="${DEMO_DIR}/.attempted-${HARNESS_TASK_ID}"
if [[ "${HARNESS_TASK_PAYLOAD}" == *fail_first* && ! -e "$marker" ]]; then
  touch "$marker"
  echo "simulated failure" >&2
  exit 3
fi
sleep "1.$(( RANDOM % 8 ))"   # 1.0 to 1.7 s: long enough for the other workers to overlap
echo "finished ${HARNESS_TASK_ID}"
