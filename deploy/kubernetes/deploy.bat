@echo off
rem deploy.bat: deploy.sh for Windows (cmd.exe, with PowerShell for the random passwords and paths).
rem Deploys the whole stack (deploy\kubernetes\stack, or an overlay) onto the cluster of kubectl's context:
rem checks the prerequisites, generates the Secrets once (kept on every redeploy), applies, waits for every
rem component and names the one that is not ready and why, then prints how to reach Grafana and the UIs.
rem
rem Usage: deploy\kubernetes\deploy.bat [--overlay DIR] [--namespace NS] [--timeout SECONDS] [--help]
rem Environment: KUBECTL (default: kubectl on PATH), REGISTRY, GPUMON_DEPLOY_STATE: as deploy.sh.
rem The steps are deploy.sh's, in the same order (test\deploy\scripts.test.ts compares them).
setlocal EnableExtensions EnableDelayedExpansion

set "HERE=%~dp0"
for %%I in ("%HERE%..\..") do set "REPO=%%~fI"
set "OVERLAY=%REPO%\deploy\kubernetes\stack"
set "NS=gpu-monitoring"
set "TIMEOUT=900"
if not defined KUBECTL set "KUBECTL=kubectl"
if not defined GPUMON_DEPLOY_STATE set "GPUMON_DEPLOY_STATE=%REPO%\.cache\deploy"
set STEP=0

:args
if "%~1"=="" goto :main
if /i "%~1"=="--help" goto :usage
if /i "%~1"=="-h" goto :usage
if /i "%~1"=="--overlay" (set "OVERLAY=%~f2" & shift & shift & goto :args)
if /i "%~1"=="--namespace" (set "NS=%~2" & shift & shift & goto :args)
if /i "%~1"=="--timeout" (set "TIMEOUT=%~2" & shift & shift & goto :args)
echo deploy.bat: unknown argument '%~1' (see --help) 1>&2
exit /b 2

:usage
for /f "usebackq tokens=1,* delims= " %%A in ("%~f0") do (
  if /i "%%A"=="setlocal" goto :eof
  if /i "%%A"=="rem" echo(%%B
)
goto :eof

:main
set "AGENT_NS=%NS%-agent"

call :step "check kubectl"
where "%KUBECTL%" >nul 2>&1 || (call :die "kubectl not found (%KUBECTL%): install it (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL=C:\path\to\kubectl.exe" & exit /b 1)

call :step "check the cluster"
"%KUBECTL%" get --raw=/readyz --request-timeout=15s >nul 2>&1 || (call :die "cannot reach the cluster of kubectl's current context (kubectl config get-contexts; kubectl config use-context NAME)" & exit /b 1)

call :step "check the default StorageClass"
"%KUBECTL%" get storageclass -o "jsonpath={range .items[*]}{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}{'\n'}{end}" | findstr /x "true" >nul || (call :die "no default StorageClass: the stack's PersistentVolumeClaims would stay Pending. Mark one: kubectl patch storageclass NAME -p ""{\""metadata\"":{\""annotations\"":{\""storageclass.kubernetes.io/is-default-class\"":\""true\""}}}""" & exit /b 1)

call :step "check GPU nodes"
set GPU_NODES=0
for /f %%N in ('"%KUBECTL%" get nodes -l nvidia.com/gpu.present^=true -o name') do set /a GPU_NODES+=1
if "%GPU_NODES%"=="0" (echo deploy.bat: warning: no node has the label nvidia.com/gpu.present=true: the gpumon agent runs on none 1>&2) else (echo deploy.bat:   %GPU_NODES% GPU node^(s^) 1>&2)

call :step "render %OVERLAY%"
call :render || exit /b 1
"%KUBECTL%" kustomize "%DIR%" >nul || exit /b 1

call :step "namespaces %NS% and %AGENT_NS%"
"%KUBECTL%" apply -k "%DIR%" -l gpumon.io/role >nul || exit /b 1

call :step "secrets"
call :secret grafana-admin admin-user admin admin-password || exit /b 1
call :secret influxdb-admin username admin password || exit /b 1
call :secret gpumon-influxdb username gpumon password || exit /b 1
call :secret grafana-influxdb username grafana password || exit /b 1
call :secret gpumon-serve-influxdb username gpumon-serve password || exit /b 1
call :token gpumon-serve-token || exit /b 1

call :step "apply"
"%KUBECTL%" delete job -n "%NS%" -l gpumon.io/init-job=true --ignore-not-found >nul || exit /b 1
rem Consumers before agents (docs\encoding.md, rule 3): on an upgrade, the agents follow the new gpumon consume.
"%KUBECTL%" get deployment gpumon-consume -n "%NS%" >nul 2>&1
if not errorlevel 1 (
  "%KUBECTL%" apply -k "%DIR%" -l "app.kubernetes.io/name!=gpumon-agent" || exit /b 1
  "%KUBECTL%" rollout status deployment/gpumon-consume -n "%NS%" --timeout=%TIMEOUT%s >nul
  if errorlevel 1 (call :explain %NS% deployment.apps/gpumon-consume & call :die "gpumon-consume is not ready after %TIMEOUT%s: the agents were left as they were (deploy.bat again continues)" & exit /b 1)
)
"%KUBECTL%" apply -k "%DIR%" || exit /b 1

call :step "wait for every component (at most %TIMEOUT%s)"
for %%S in ("%NS%" "%AGENT_NS%") do (
  for /f %%O in ('"%KUBECTL%" get statefulset^,deployment^,daemonset -n %%~S -l app.kubernetes.io/part-of^=gpu-monitoring -o name') do (
    "%KUBECTL%" rollout status %%O -n %%~S --timeout=%TIMEOUT%s >nul
    if errorlevel 1 (call :explain %%~S %%O & call :die "%%O is not ready after %TIMEOUT%s (kubectl describe -n %%~S %%O)" & exit /b 1)
    echo deploy.bat:   %%O: ready 1>&2
  )
  for /f %%O in ('"%KUBECTL%" get job -n %%~S -l gpumon.io/init-job^=true -o name') do (
    call :jobdone %%~S %%O
    if errorlevel 1 (call :explain %%~S %%O & call :die "%%O did not complete (kubectl describe -n %%~S %%O)" & exit /b 1)
    echo deploy.bat:   %%O: ready 1>&2
  )
)

call :step "access"
for /f "usebackq delims=" %%P in (`powershell -NoProfile -Command "$s = & '%KUBECTL%' get secret -n '%NS%' grafana-admin -o 'jsonpath={.data.admin-password}'; [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($s))"`) do set "GRAFANA_PASSWORD=%%P"
echo.
echo The stack is ready in the namespace %NS% (the agents: %AGENT_NS%).
echo.
echo Grafana: user admin, password %GRAFANA_PASSWORD%
echo   (again: kubectl get secret -n %NS% grafana-admin -o jsonpath={.data.admin-password}, then base64-decode it)
echo.
echo Each in a window of its own (kubectl port-forward listens on 127.0.0.1):
echo   kubectl port-forward -n %NS% svc/grafana 3000:3000        Grafana, http://127.0.0.1:3000
echo   kubectl port-forward -n %NS% svc/spark-master 8080:8080   the Spark master, http://127.0.0.1:8080
echo   kubectl port-forward -n %NS% svc/namenode 9870:9870       the HDFS NameNode, http://127.0.0.1:9870
echo   kubectl port-forward -n %NS% svc/gpumon-serve 8088:80     gpumon's dashboard, http://127.0.0.1:8088
echo     (it asks for its token: kubectl get secret -n %NS% gpumon-serve-token -o jsonpath={.data.token}, then base64-decode it)
echo.
echo   kubectl get pods -n %NS%
echo   kubectl logs -n %NS% -l app=batch-analytics-pod
echo More: deploy\kubernetes\README.md
exit /b 0

rem ---- subroutines --------------------------------------------------------------------------------------
:step
set /a STEP+=1
echo deploy.bat: [%STEP%] %~1 1>&2
goto :eof

:die
echo deploy.bat: %~1 1>&2
goto :eof

rem The Secret %1 with the key %2 = %3 and the key %4 = a random password, created only when missing.
:secret
"%KUBECTL%" get secret -n "%NS%" %1 >nul 2>&1 && (echo deploy.bat:   Secret %1: kept 1>&2 & goto :eof)
set "PASSWORD="
for /f "usebackq delims=" %%R in (`powershell -NoProfile -Command "[guid]::NewGuid().ToString('N')"`) do set "PASSWORD=%%R"
if not defined PASSWORD (call :die "PowerShell made no password" & exit /b 1)
"%KUBECTL%" create secret generic %1 -n "%NS%" "--from-literal=%2=%3" "--from-literal=%4=%PASSWORD%" >nul || exit /b 1
echo deploy.bat:   Secret %1: created 1>&2
goto :eof

rem The Secret %1 with the key token = 64 random hex digits, created only when missing.
:token
"%KUBECTL%" get secret -n "%NS%" %1 >nul 2>&1 && (echo deploy.bat:   Secret %1: kept 1>&2 & goto :eof)
set "TOKEN="
for /f "usebackq delims=" %%R in (`powershell -NoProfile -Command "[guid]::NewGuid().ToString('N') + [guid]::NewGuid().ToString('N')"`) do set "TOKEN=%%R"
if not defined TOKEN (call :die "PowerShell made no token" & exit /b 1)
"%KUBECTL%" create secret generic %1 -n "%NS%" "--from-literal=token=%TOKEN%" >nul || exit /b 1
echo deploy.bat:   Secret %1: created 1>&2
goto :eof

rem The Job %2 of the namespace %1 completes (errorlevel 0), or fails or outlives the timeout (1).
:jobdone
set /a TRIES=%TIMEOUT% / 2
:jobdone_poll
set "CONDITIONS="
for /f "usebackq delims=" %%C in (`"%KUBECTL%" get %2 -n %1 -o "jsonpath={.status.conditions[?(@.status=='True')].type}"`) do set "CONDITIONS=%%C"
echo " %CONDITIONS% " | findstr /c:" Complete " >nul && exit /b 0
echo " %CONDITIONS% " | findstr /c:" Failed " >nul && exit /b 1
set /a TRIES-=1
if %TRIES% LEQ 0 exit /b 1
timeout /t 2 /nobreak >nul
goto :jobdone_poll

rem Why %2 of the namespace %1 is not ready: the namespace's pods, its last events, the workload's last logs.
:explain
echo deploy.bat: %2 (namespace %1) is not ready: 1>&2
"%KUBECTL%" get pods -n %1 -o wide 1>&2
"%KUBECTL%" get events -n %1 --sort-by=.lastTimestamp 1>&2
"%KUBECTL%" logs -n %1 %2 --all-containers --tail=5 1>&2
goto :eof

rem Writes %GPUMON_DEPLOY_STATE%\%NS%\kustomization.yaml, as deploy.sh's render_dir does; sets DIR.
:render
if not exist "%OVERLAY%\kustomization.yaml" (call :die "%OVERLAY% has no kustomization.yaml" & exit /b 1)
set "DIR=%GPUMON_DEPLOY_STATE%\%NS%"
if not exist "%DIR%" mkdir "%DIR%"
for /f "usebackq delims=" %%R in (`powershell -NoProfile -Command "Set-Location -LiteralPath '%DIR%'; (Resolve-Path -Relative -LiteralPath '%OVERLAY%').Replace('\','/')"`) do set "REL=%%R"
for /f "usebackq tokens=2 delims=:, " %%V in (`findstr /r /c:"^  \"version\":" "%REPO%\package.json"`) do set "VERSION=%%~V"
if not defined REGISTRY if exist "%GPUMON_DEPLOY_STATE%\registry" set /p REGISTRY=<"%GPUMON_DEPLOY_STATE%\registry"
set MIRRORED=
if exist "%GPUMON_DEPLOY_STATE%\mirrored" set /p MIRRORED=<"%GPUMON_DEPLOY_STATE%\mirrored"
set "K=%DIR%\kustomization.yaml"
> "%K%" echo # Written by deploy.bat: the overlay below in the namespace %NS%
>>"%K%" echo apiVersion: kustomize.config.k8s.io/v1beta1
>>"%K%" echo kind: Kustomization
>>"%K%" echo resources:
>>"%K%" echo   - %REL%
if defined REGISTRY (
  >>"%K%" echo images:
  >>"%K%" echo   - name: gpumon
  >>"%K%" echo     newName: %REGISTRY%/gpumon
  >>"%K%" echo     newTag: "%VERSION%"
  if "%MIRRORED%"=="%REGISTRY%" for %%I in (apache/kafka apache/hadoop apache/spark influxdb grafana/grafana) do (
    >>"%K%" echo   - name: %%I
    >>"%K%" echo     newName: %REGISTRY%/%%I
  )
)
if "%NS%"=="gpu-monitoring" goto :eof
>>"%K%" echo patches:
call :rename namespace gpu-monitoring /metadata/namespace %NS%
call :rename namespace gpu-monitoring-agent /metadata/namespace %AGENT_NS%
call :rename "kind: Namespace" gpu-monitoring /metadata/name %NS%
call :rename "kind: Namespace" gpu-monitoring-agent /metadata/name %AGENT_NS%
>>"%K%" echo   - target:
>>"%K%" echo       kind: DaemonSet
>>"%K%" echo       name: gpumon-agent
>>"%K%" echo     patch: ^|-
>>"%K%" echo       apiVersion: apps/v1
>>"%K%" echo       kind: DaemonSet
>>"%K%" echo       metadata:
>>"%K%" echo         name: gpumon-agent
>>"%K%" echo       spec:
>>"%K%" echo         template:
>>"%K%" echo           spec:
>>"%K%" echo             containers:
>>"%K%" echo               - name: agent
>>"%K%" echo                 env:
>>"%K%" echo                   - name: GPUMON_KAFKA_BROKERS
>>"%K%" echo                     value: kafka.%NS%.svc:9092
goto :eof

rem One patch of :render: target %1 (namespace, or "kind: Namespace" with the name %2), path %3 := %4.
:rename
>>"%K%" echo   - target:
if "%~1"=="namespace" (>>"%K%" echo       namespace: %2) else (
  >>"%K%" echo       kind: Namespace
  >>"%K%" echo       name: %2
)
>>"%K%" echo     patch: ^|-
>>"%K%" echo       - op: replace
>>"%K%" echo         path: %3
>>"%K%" echo         value: %4
goto :eof
