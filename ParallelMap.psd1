@{
    RootModule           = 'ParallelMap.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5d3c8a57-2f7e-4c1e-9a34-8f0b6a1d2e47'
    Author               = 'ParallelMap contributors'
    CompanyName          = 'ParallelMap'
    Copyright            = '(c) ParallelMap contributors. MIT License.'
    Description          = 'Parallel map over pipeline input on a pool of runspaces: streaming output, per-runspace initialization, shared variables, timeouts, retries, progress, prompt Ctrl-C, and resumable checkpointed batches.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    RequiredAssemblies   = @('ParallelMap.Engine.dll')
    FunctionsToExport    = @()
    CmdletsToExport      = @('Invoke-ParallelMap', 'Invoke-ParallelRun', 'Start-ResumableBatch', 'Get-ResumableBatch', 'Receive-ResumableBatch', 'New-ParallelPool', 'Get-ParallelPool', 'Remove-ParallelPool', 'Use-ParallelPool')
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('parallel', 'runspace', 'pipeline', 'batch', 'resume', 'checkpoint')
            ProjectUri   = 'https://github.com/parallelmap/ParallelMap'
            ReleaseNotes = 'First release: Invoke-ParallelMap and Invoke-ParallelRun on a channel-free scheduler with dedicated worker threads.'
        }
    }
}
