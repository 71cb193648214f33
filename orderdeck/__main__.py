from orderdeck.cli import main

if __name__ == "__main__":
    # main() returns the exit status a command asked for with ctx.exit(n), as the
    # installed `orderdeck` script (sys.exit(main())) already honours.
    raise SystemExit(main())
