@echo off
rem build-images.bat: build-images.sh for Windows (cmd.exe).
rem Builds gpumon's container image from the root Dockerfile with docker or podman, whichever is installed,
rem tagged with package.json's version: gpumon:<version>.
rem
rem Usage: deploy\kubernetes\build-images.bat [--base IMAGE] [--help]
rem   --base IMAGE   the Node.js base image (the Dockerfile's NODE_IMAGE, default node:24-bookworm-slim)
rem Environment: GPUMON_BUILDER=docker or podman to choose when both are installed.
rem The steps are build-images.sh's, in the same order (test\deploy\scripts.test.ts compares them).
setlocal EnableExtensions

set "HERE=%~dp0"
for %%I in ("%HERE%..\..") do set "REPO=%%~fI"
set "BASE="
set STEP=0

:args
if "%~1"=="" goto :main
if /i "%~1"=="--help" goto :usage
if /i "%~1"=="-h" goto :usage
if /i "%~1"=="--base" (set "BASE=%~2" & shift & shift & goto :args)
echo build-images.bat: unknown argument '%~1' (see --help) 1>&2
exit /b 2

:usage
for /f "usebackq tokens=1,* delims= " %%A in ("%~f0") do (
  if /i "%%A"=="setlocal" goto :eof
  if /i "%%A"=="rem" echo(%%B
)
goto :eof

:main
call :step "find docker or podman"
set "BUILDER=%GPUMON_BUILDER%"
if not defined BUILDER (
  where docker >nul 2>&1 && set "BUILDER=docker"
)
if not defined BUILDER (
  where podman >nul 2>&1 && set "BUILDER=podman"
)
if not defined BUILDER (
  echo build-images.bat: neither docker nor podman is installed: install one ^(https://docs.docker.com/get-docker/, https://podman.io/docs/installation^) 1>&2
  exit /b 1
)
set "VERSION="
for /f "usebackq tokens=2 delims=:, " %%V in (`findstr /r /c:"^  \"version\":" "%REPO%\package.json"`) do set "VERSION=%%~V"
if not defined VERSION (echo build-images.bat: no version in %REPO%\package.json 1>&2 & exit /b 1)

call :step "build gpumon:%VERSION% with %BUILDER%"
if defined BASE (
  "%BUILDER%" build -t "gpumon:%VERSION%" -f "%REPO%\Dockerfile" --build-arg "NODE_IMAGE=%BASE%" "%REPO%" || exit /b 1
) else (
  "%BUILDER%" build -t "gpumon:%VERSION%" -f "%REPO%\Dockerfile" "%REPO%" || exit /b 1
)
echo build-images.bat: built gpumon:%VERSION% 1>&2
exit /b 0

:step
set /a STEP+=1
echo build-images.bat: [%STEP%] %~1 1>&2
goto :eof
