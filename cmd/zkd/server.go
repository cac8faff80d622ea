package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/gctune"
	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/internal/sysmon"
)

func serverCmd() *cobra.Command {
	var cfgPath, logLevel, logFormat string
	var pprofOn bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a server (standalone) from a zoo.cfg",
		Long: "Run a zkd server. With --config it reads a standard ZooKeeper zoo.cfg;\n" +
			"without, it serves on 127.0.0.1:2181 with its data under ./zkd-data.",
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg *config.Config
			var err error
			if cfgPath != "" {
				cfg, err = config.Load(cfgPath)
				if err != nil {
					return err
				}
			} else {
				wd, err := os.Getwd()
				if err != nil {
					return err
				}
				cfg = config.Default(wd)
			}
			if logLevel != "" {
				cfg.LogLevel = logLevel
			}
			if logFormat != "" {
				cfg.LogFormat = logFormat
			}
			if pprofOn {
				cfg.AdminPprof = true
			}
			// First, before anything is opened: on success this process
			// is replaced by the same command with GODEBUG amended, which
			// then gets here again and goes on.
			var sysmonErr error
			if cfg.SysmonAwake {
				sysmonErr = sysmon.KeepAwake()
			}
			log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			if sysmonErr != nil {
				log.Warn("running with Go's default sysmon", zap.Error(sysmonErr))
			}
			for _, k := range cfg.Unknown {
				log.Warn("unknown zoo.cfg key ignored", zap.String("key", k))
			}
			if cfg.ClientPort == 0 {
				return fmt.Errorf("clientPort is not set in %s", cfgPath)
			}
			srv, err := server.New(cfg, log)
			if err != nil {
				return err
			}
			if cfg.GCAdaptive && gctune.Enabled() {
				// After New: recovery runs with the collector suspended.
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go gctune.Run(ctx)
			}
			if err := srv.Start(); err != nil {
				return err
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
			got := <-sig
			log.Info("shutting down", zap.String("signal", got.String()))
			srv.Stop()
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "path of a zoo.cfg")
	cmd.Flags().StringVar(&logLevel, "log-level", "", "debug, info, warn or error (overrides zkd.log.level)")
	cmd.Flags().StringVar(&logFormat, "log-format", "", "console or json (overrides zkd.log.format)")
	cmd.Flags().BoolVar(&pprofOn, "pprof", false, "serve Go profiling endpoints at /debug/pprof/ on the AdminServer port (zkd.admin.pprof)")
	return cmd
}

func newLogger(level, format string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if level == "" {
		level = "info"
	}
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	var zc zap.Config
	switch format {
	case "", "console":
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
		zc.DisableStacktrace = true
	case "json":
		zc = zap.NewProductionConfig()
	default:
		return nil, fmt.Errorf("log format %q: want console or json", format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	return zc.Build()
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Printf("zkd %s\n", server.Version)
		},
	}
}
