from jobline.cli.main import main

main()
