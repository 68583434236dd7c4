# The same verbs as build.sh, for Windows PowerShell / pwsh.
#   ./build.ps1 [build|test|run [ARGS]|cli ARGS|bench [ARGS]|ptx]
param([Parameter(Position = 0)][string]$Verb = "build", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest = @())
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = "1"; $env:DOTNET_NOLOGO = "1"
$Config = if ($env:CONFIG) { $env:CONFIG } else { "Release" }
if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) { Write-Error "the .NET 10 SDK (dotnet) is not on PATH"; exit 2 }

function Invoke-Ptx { if (Get-Command bash -ErrorAction SilentlyContinue) { bash kernels/build.sh kernels/build/ptx docs/ptxas-report.md } else { Write-Host "bash not found: PTX not built" } }
function Invoke-Build {
    if (Get-Command nvcc -ErrorAction SilentlyContinue) { Invoke-Ptx }
    dotnet build Kernels.sln -c $Config --nologo -v quiet -clp:ErrorsOnly
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
$Cli = "src/Qwen3Next.Cli/bin/$Config/net10.0/kernels.dll"
switch ($Verb) {
    "build" { Invoke-Build }
    "test" { Invoke-Build; dotnet run --no-build -c $Config --project tests/Qwen3Next.Tests -- @Rest }
    "run" { Invoke-Build; dotnet $Cli run @Rest }
    "cli" { Invoke-Build; dotnet $Cli @Rest }
    "bench" { Invoke-Build; dotnet run --no-build -c $Config --project bench/Qwen3Next.Bench -- @Rest }
    "ptx" { Invoke-Ptx }
    default { Write-Error "usage: ./build.ps1 [build|test|run [ARGS]|cli ARGS|bench [ARGS]|ptx]"; exit 2 }
}
exit $LASTEXITCODE
