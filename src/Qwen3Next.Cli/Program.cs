return Qwen3Next.Cli.CliApp.Run(args);
