enum EnableBotCoreModule {}
