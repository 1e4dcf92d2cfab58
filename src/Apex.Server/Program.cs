using System.CommandLine;
using Apex.Server.Commands;

var root = new RootCommand("Apex: chat with an agent that finds where your AI spend and latency go.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(MigrateCommand.Create());
root.Subcommands.Add(CheckConfigCommand.Create());
root.Subcommands.Add(UserCommands.Create());
root.Subcommands.Add(KeysCommand.Create());
root.Subcommands.Add(IngestKeyCommands.Create());
root.Subcommands.Add(VerifyCommand.Create());
root.Subcommands.Add(CatalogCommand.Create());

return await root.Parse(args).InvokeAsync();
