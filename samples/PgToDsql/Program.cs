// Change replication from PostgreSQL into DSQL with `dsql-sync run`, on this machine (README.md beside this file):
//   dotnet run --project samples/PgToDsql -c Release -- up        a source (wal_level = logical) and a DSQL emulator; Ctrl+C stops both
//   dotnet run --project samples/PgToDsql -c Release -- write     inserts, updates, deletes and key updates at the source until Ctrl+C
//   dotnet run --project samples/PgToDsql -c Release -- compare   waits until the target equals the source, then prints both
using System.Runtime.InteropServices;
using PgToDsql;

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
return await SampleCommands.RunAsync(args, Console.Out, stop.Token);
